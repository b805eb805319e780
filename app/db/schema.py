"""Numbered migrations. Never edit a released step; append a new one.

Each step is a list of SQL statements applied in one transaction together
with ``PRAGMA user_version = N``.

Text columns used by query-by-example have an upper-cased ``*_norm`` twin so
that case-insensitive wildcard matching is a GLOB on an indexed column.
"""

V1 = [
    # -- the catalogue ------------------------------------------------------
    """CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        issuer_of_patient_id TEXT NOT NULL DEFAULT '',
        patient_name TEXT NOT NULL DEFAULT '',
        patient_birth_date TEXT NOT NULL DEFAULT '',
        patient_sex TEXT NOT NULL DEFAULT '',
        patient_telephone_numbers TEXT NOT NULL DEFAULT '',
        confidentiality TEXT NOT NULL DEFAULT '',
        patient_id_norm TEXT NOT NULL DEFAULT '',
        patient_name_norm TEXT NOT NULL DEFAULT '',
        UNIQUE (patient_id, issuer_of_patient_id)
    )""",
    "CREATE INDEX patients_id_norm ON patients (patient_id_norm)",
    "CREATE INDEX patients_name_norm ON patients (patient_name_norm)",
    # each component of the name (family, given, middle...), so that a
    # component pattern ('john*') is an index range too, not a scan
    """CREATE TABLE patient_name_parts (
        patient_pk INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        part TEXT NOT NULL
    )""",
    "CREATE INDEX patient_name_parts_part ON patient_name_parts (part, patient_pk)",
    "CREATE INDEX patient_name_parts_pk ON patient_name_parts (patient_pk)",
    """CREATE TABLE studies (
        study_instance_uid TEXT PRIMARY KEY,
        patient_pk INTEGER NOT NULL REFERENCES patients (id),
        study_date TEXT NOT NULL DEFAULT '',
        study_time TEXT NOT NULL DEFAULT '',
        accession_number TEXT NOT NULL DEFAULT '',
        accession_norm TEXT NOT NULL DEFAULT '',
        study_id TEXT NOT NULL DEFAULT '',
        study_description TEXT NOT NULL DEFAULT '',
        description_norm TEXT NOT NULL DEFAULT '',
        referring_physician_name TEXT NOT NULL DEFAULT '',
        modalities TEXT NOT NULL DEFAULT '',
        series_count INTEGER NOT NULL DEFAULT 0,
        instance_count INTEGER NOT NULL DEFAULT 0,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        assigned_to TEXT,
        migrated INTEGER NOT NULL DEFAULT 0,
        source_node TEXT,
        ai_rescan_pending INTEGER NOT NULL DEFAULT 0,
        staged INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'trashed')),
        imported_at TEXT NOT NULL
    )""",
    "CREATE INDEX studies_patient ON studies (patient_pk)",
    # covering the opening worklist (all active studies, newest first)
    "CREATE INDEX studies_date ON studies (study_date, study_time, state, study_instance_uid, patient_pk)",
    "CREATE INDEX studies_accession ON studies (accession_norm)",
    "CREATE INDEX studies_description ON studies (description_norm)",
    "CREATE INDEX studies_assigned ON studies (assigned_to)",
    "CREATE INDEX studies_state_date ON studies (state, study_date)",
    """CREATE TABLE series (
        series_instance_uid TEXT PRIMARY KEY,
        study_instance_uid TEXT NOT NULL REFERENCES studies (study_instance_uid),
        modality TEXT NOT NULL DEFAULT '',
        series_number INTEGER,
        series_description TEXT NOT NULL DEFAULT '',
        body_part_examined TEXT NOT NULL DEFAULT '',
        frame_of_reference_uid TEXT NOT NULL DEFAULT '',
        series_date TEXT NOT NULL DEFAULT '',
        instance_count INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX series_study ON series (study_instance_uid)",
    "CREATE INDEX series_modality ON series (modality, study_instance_uid)",
    """CREATE TABLE instances (
        sop_instance_uid TEXT PRIMARY KEY,
        series_instance_uid TEXT NOT NULL REFERENCES series (series_instance_uid),
        sop_class_uid TEXT NOT NULL DEFAULT '',
        transfer_syntax_uid TEXT NOT NULL DEFAULT '',
        instance_number INTEGER,
        rows INTEGER,
        columns INTEGER,
        number_of_frames INTEGER,
        size INTEGER NOT NULL,
        path TEXT NOT NULL,
        linked INTEGER NOT NULL DEFAULT 0,
        sha256 TEXT,
        imported_at TEXT NOT NULL
    )""",
    "CREATE INDEX instances_series ON instances (series_instance_uid, instance_number)",
    # -- accounts -------------------------------------------------------------
    """CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT,
        display_name TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL
    )""",
    """CREATE TABLE user_roles (
        name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'content-manager', 'radiologist', 'researcher', 'clerk')),
        PRIMARY KEY (name, role)
    )""",
    # -- audit trail (hash chain) ----------------------------------------------
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        event_code TEXT NOT NULL,
        outcome TEXT NOT NULL,
        objects TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX audit_time ON audit (time)",
    """CREATE TABLE audit_objects (
        audit_id INTEGER NOT NULL REFERENCES audit (id),
        uid TEXT NOT NULL
    )""",
    "CREATE INDEX audit_objects_uid ON audit_objects (uid)",
    # -- workflow state (worklist, change journal, trash) -------------------------
    """CREATE TABLE locks (
        study_instance_uid TEXT PRIMARY KEY REFERENCES studies (study_instance_uid),
        user TEXT NOT NULL,
        time TEXT NOT NULL
    )""",
    """CREATE TABLE changes (
        change_id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        objects TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'applied', 'undone', 'failed', 'purged')),
        undone_by INTEGER REFERENCES changes (change_id),
        undoes INTEGER REFERENCES changes (change_id),
        owner_pid INTEGER,
        summary TEXT NOT NULL DEFAULT '',
        plan TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE change_objects (
        change_id INTEGER NOT NULL REFERENCES changes (change_id),
        uid TEXT NOT NULL,
        kind TEXT NOT NULL
    )""",
    "CREATE INDEX change_objects_uid ON change_objects (uid)",
    """CREATE TABLE measurements (
        id INTEGER PRIMARY KEY,
        sop_instance_uid TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        user TEXT NOT NULL,
        time TEXT NOT NULL
    )""",
    "CREATE INDEX measurements_sop ON measurements (sop_instance_uid)",
    # -- network ------------------------------------------------------------------
    """CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        aet TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        tls INTEGER NOT NULL DEFAULT 0,
        purposes TEXT NOT NULL DEFAULT 'query-retrieve store'
    )""",
    """CREATE TABLE appointments (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        date TEXT NOT NULL DEFAULT '',
        time TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        modality TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        node TEXT NOT NULL DEFAULT '',
        fetched_at TEXT NOT NULL
    )""",
    "CREATE INDEX appointments_patient ON appointments (patient_id, date)",
    # -- research -------------------------------------------------------------------
    """CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    )""",
    """CREATE TABLE project_members (
        project TEXT NOT NULL REFERENCES projects (name),
        user TEXT NOT NULL REFERENCES users (name),
        role TEXT NOT NULL DEFAULT 'member',
        PRIMARY KEY (project, user)
    )""",
    """CREATE TABLE subjects (
        project TEXT NOT NULL REFERENCES projects (name),
        patient_id TEXT NOT NULL,
        pid TEXT NOT NULL,
        subject TEXT NOT NULL,
        PRIMARY KEY (project, pid),
        UNIQUE (project, subject),
        UNIQUE (project, patient_id)
    )""",
]

# V2: the outbox, objects waiting to be sent to a node (IOCM corrections and
# their rejection notes; AI rescan requests). app/net/outbox/queue.py; the network code
# sends what is queued and marks it sent.
V2 = [
    """CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('store', 'ai-rescan')),
        node TEXT,
        study_instance_uid TEXT NOT NULL,
        sop_instance_uid TEXT,
        path TEXT,
        reason TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'held', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at TEXT
    )""",
    "CREATE INDEX outbox_state ON outbox (state, node)",
    "CREATE INDEX outbox_study ON outbox (study_instance_uid)",
]

# V3: research staging, per series of a project (state for `staging`) and per
# staged instance (the pseudonymised copy in the project's store).
V3 = [
    """CREATE TABLE staging (
        project TEXT NOT NULL REFERENCES projects (name),
        series_instance_uid TEXT NOT NULL,
        study_instance_uid TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        reason TEXT NOT NULL DEFAULT '',
        instances INTEGER NOT NULL DEFAULT 0,
        staged_instances INTEGER NOT NULL DEFAULT 0,
        updated TEXT NOT NULL,
        PRIMARY KEY (project, series_instance_uid)
    )""",
    "CREATE INDEX staging_patient ON staging (project, patient_id)",
    "CREATE INDEX staging_study ON staging (study_instance_uid)",
    """CREATE TABLE staged_instances (
        project TEXT NOT NULL REFERENCES projects (name),
        sop_instance_uid TEXT NOT NULL,
        series_instance_uid TEXT NOT NULL,
        staged_sop_instance_uid TEXT NOT NULL,
        staged_series_instance_uid TEXT NOT NULL,
        staged_study_instance_uid TEXT NOT NULL,
        pid TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        staged_at TEXT NOT NULL,
        PRIMARY KEY (project, sop_instance_uid)
    )""",
    "CREATE INDEX staged_instances_series ON staged_instances (project, series_instance_uid)",
    "CREATE INDEX staged_instances_pid ON staged_instances (project, pid)",
]

# V4: an outbox entry can be discarded (state ``discarded``: never sent, kept,
# and restorable), with who discarded it, when and why. SQLite cannot change a
# CHECK constraint in place: the table is rebuilt and its rows copied.
V4 = [
    """CREATE TABLE outbox_v4 (
        id TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('store', 'ai-rescan')),
        node TEXT,
        study_instance_uid TEXT NOT NULL,
        sop_instance_uid TEXT,
        path TEXT,
        reason TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'held', 'sent', 'failed', 'discarded')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at TEXT,
        discarded_by TEXT,
        discarded_at TEXT,
        discard_reason TEXT NOT NULL DEFAULT ''
    )""",
    """INSERT INTO outbox_v4 (id, time, kind, node, study_instance_uid, sop_instance_uid, path,
                              reason, state, attempts, last_error, sent_at)
       SELECT id, time, kind, node, study_instance_uid, sop_instance_uid, path,
              reason, state, attempts, last_error, sent_at FROM outbox""",
    "DROP TABLE outbox",
    "ALTER TABLE outbox_v4 RENAME TO outbox",
    "CREATE INDEX outbox_state ON outbox (state, node)",
    "CREATE INDEX outbox_study ON outbox (study_instance_uid)",
]

# V5: studies shared with a user of this workstation (app/worklist/sharing.py): who
# shared, with whom, when and the note; sharing again replaces the note.
V5 = [
    """CREATE TABLE shares (
        study_instance_uid TEXT NOT NULL,
        shared_with TEXT NOT NULL,
        shared_by TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        time TEXT NOT NULL,
        PRIMARY KEY (shared_with, study_instance_uid)
    )""",
    "CREATE INDEX shares_study ON shares (study_instance_uid)",
]

# V6: the audit chain is anchored (app/accounts/audit.py): entries are keyed hashes
# (HMAC-SHA256 with the home's secret), the head (count and last hash) is
# kept in ``audit_head`` (same transaction as each entry, itself keyed) and
# in a file beside the cache; an entry written by a change names the change
# and the digest of its journal row, so a journal row removed or edited is
# caught too. ``journal_floor``: changes up to this id predate the link.
V6 = [
    "ALTER TABLE audit ADD COLUMN change_id INTEGER",
    "ALTER TABLE audit ADD COLUMN change_digest TEXT",
    "CREATE INDEX audit_change ON audit (change_id)",
    """CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        count INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        journal_floor INTEGER NOT NULL,
        mac TEXT NOT NULL
    )""",
]

# V7: measurements are DICOM reports in the cache (app/measurements, issue #15):
# the old ``measurements`` table, which nothing could fill or show, goes. The
# journal may still hold its rows in old changes' plans (IOCM re-keyed them):
# the journal no longer writes that table (app/changes/journal.py WRITE_ORDER),
# so undoing such a change passes them by.
V7 = [
    "DROP INDEX IF EXISTS measurements_sop",
    "DROP TABLE IF EXISTS measurements",
]

# V8: a node may be a DICOMweb service (app/net/web, issue #16): its base URL
# and the name of the environment variable holding its credentials (never
# the credentials). A DICOM node keeps both empty.
V8 = [
    "ALTER TABLE nodes ADD COLUMN url TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE nodes ADD COLUMN token_env TEXT NOT NULL DEFAULT ''",
]

MIGRATIONS: list[list[str]] = [V1, V2, V3, V4, V5, V6, V7, V8]
