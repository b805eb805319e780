"""The burn job: studies from the cache to IHE PDI discs, ISO images or real
drives, each disc read back and checked against its manifest.

    burn(home, user, study_uids, iso=PATH)         one ISO image (or several,
                                                   PATH_1.iso..., with a medium)
    burn(home, user, study_uids, device=DEV,
         next_disc=ask)                            a drive; ``ask(n, total)`` is
                                                   called before every further
                                                   blank disc (False cancels)

Stage (a temporary folder, hard links into the store), write, read back,
next disc: only one disc's file set exists at a time. The burn is audited as
an Export (PS3.15 A.5.3.6, DCM 110106) whatever its outcome.

A disc is for another site unless told otherwise: compressed images are
written decompressed so that it meets the general-purpose profile
(:mod:`app.media.decompress`); ``keep_compressed`` keeps them for a disc
read here. Each disc's result names the profile it meets.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from app import store
from app.accounts import audit
from app.accounts.accounts import User
from app.db import transaction
from app.errors import BadInput, Cancelled, RuleRefused
from app.home import Home
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.media import anonymise as anon
from app.media import capacity, decompress, iso, manifest, selection
from app.media.burners import BLANK, Burner, for_system
from app.media.capacity import Medium
from app.media.manifest import Verification
from app.media.stage import StagedDisc, stage

NextDisc = Callable[[int, int], bool]


@dataclass
class BurnOptions:
    label: str = ""                       # the volume identifier (default STUDYDESK)
    web: bool = True                      # INDEX.HTM and IHE_PDI/
    anonymise: bool = False
    deid_options: tuple[str, ...] = ()    # PS3.15 options by their CLI names
    medium: Optional[Medium] = None       # spread over discs of this size
    verify: bool = True
    keep_compressed: bool = False         # True: a disc for this site only


@dataclass
class DiscResult:
    number: int
    total: int
    target: str
    volume: str
    studies: list[str]
    instances: int
    bytes: int
    verification: Optional[Verification] = None
    report: Optional[dict] = None   # anonymised: the verification report on the disc
    profile: str = ""               # the general-purpose profile met ("" for none)
    transfer_syntaxes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"disc": self.number, "of": self.total, "target": self.target, "label": self.volume,
               "studies": self.studies, "instances": self.instances, "bytes": self.bytes,
               "profile": self.profile or None, "transfer_syntaxes": self.transfer_syntaxes,
               "verified": self.verification.ok if self.verification else None,
               "verification": self.verification.to_json() if self.verification else None}
        if self.report is not None:
            scan = self.report["residual_scan"]
            out["residual_scan"] = {"passed": scan["passed"], "hits": len(scan["hits"]),
                                    "files_scanned": scan["files_scanned"]}
            out["burned_in_risk"] = self.report["burned_in_risk"]["count"]
            out["report"] = anon.REPORT_JSON
        return out


@dataclass
class BurnResult:
    discs: list[DiscResult] = field(default_factory=list)
    planned: int = 0
    anonymised: bool = False

    @property
    def verified(self) -> bool:
        return bool(self.discs) and all(d.verification is not None and d.verification.ok
                                        for d in self.discs)

    @property
    def complete(self) -> bool:
        return len(self.discs) == self.planned

    def to_json(self) -> dict:
        return {"discs": [d.to_json() for d in self.discs], "planned": self.planned,
                "anonymised": self.anonymised, "verified": self.verified}


def iso_targets(path: Path, count: int) -> list[Path]:
    """``FILE`` for one disc; ``FILE_1.iso``, ``FILE_2.iso``... for a set."""
    if count == 1:
        return [path]
    suffix = path.suffix or ".iso"
    return [path.with_name(f"{path.stem}_{n}{suffix}") for n in range(1, count + 1)]


def _slice(progress: Progress, start: float, end: float) -> Progress:
    return lambda f, m="": progress(None if f is None else start + (end - start) * f, m)


class _Burn:
    def __init__(self, home: Home, user: str, options: BurnOptions, progress: Progress,
                 cancel: CancelToken):
        self.home, self.user, self.options = home, user, options
        self.progress, self.cancel = progress, cancel
        self.result = BurnResult(anonymised=options.anonymise)
        self.deidentifier = anon.engine(options.deid_options) if options.anonymise else None
        self.reports: list[dict] = []  # the verification report of each anonymised disc
        self.work = Path(tempfile.mkdtemp(prefix="burn-", dir=store.scratch(home)))

    def prepare(self, studies: list[selection.Study], n: int, total: int,
                whole: dict[str, int], progress: Progress) -> StagedDisc:
        run = None
        if self.deidentifier is not None:
            studies, run = anon.anonymise(studies, self.work / f"anon{n}", self.deidentifier,
                                          _slice(progress, 0.0, 0.5), self.cancel)
            progress = _slice(progress, 0.5, 1.0)
            what = f"burn, disc {n}" if total > 1 else "burn"
            document = run.verdict(what=what, overridable=False, studies=len(studies))
            anon.write_report(document, self.work / f"disc{n}")
        staged = stage(studies, self.work / f"disc{n}", label=self.options.label, number=n,
                       total=total, web_content=self.options.web, whole=whole, progress=progress,
                       cancel=self.cancel, decode=not self.options.keep_compressed)
        if run is not None:  # what the disc adds to the objects: scanned as well
            anon.scan_disc(run, staged.folder)
            self.reports.append(run.verdict(what=what, overridable=False, studies=len(studies)))
        return staged

    def finish(self, staged: StagedDisc, target: str, verification: Optional[Verification]) -> None:
        medium = self.options.medium.key if self.options.medium else None
        self.result.discs.append(DiscResult(
            staged.number, staged.total, target, staged.volume,
            [s.study_instance_uid for s in staged.studies], staged.instance_count,
            staged.size, verification, self.reports[-1] if self.reports else None,
            decompress.profile(staged.syntaxes, medium), sorted(staged.syntaxes)))
        shutil.rmtree(staged.folder, ignore_errors=True)
        shutil.rmtree(self.work / f"anon{staged.number}", ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _check_fits(staged: StagedDisc, room: Optional[int], where: str) -> None:
    needed = capacity.staged_size(staged.folder)
    if room is not None and needed > room:
        raise RuleRefused(f"disc {staged.number}: needs {needed / 1e6:.1f} MB, {where} holds "
                          f"{room / 1e6:.1f} MB")


def _to_iso(job: _Burn, plan: list, whole: dict, path: Path) -> None:
    room = job.options.medium.capacity if job.options.medium else None
    targets = iso_targets(path, len(plan))
    for n, (studies, target) in enumerate(zip(plan, targets), 1):
        part = _slice(job.progress, (n - 1) / len(plan), n / len(plan))
        staged = job.prepare(studies, n, len(plan), whole, _slice(part, 0.0, 0.4))
        _check_fits(staged, room, f"a {job.options.medium}" if job.options.medium else "the medium")
        iso.write_iso(staged.folder, target, staged.volume, _slice(part, 0.4, 0.75), job.cancel)
        verification = None
        if job.options.verify:
            verification = manifest.verify_image(target, staged.digests, _slice(part, 0.75, 1.0),
                                                 job.cancel)
        job.finish(staged, str(target), verification)
        if verification is not None and not verification.ok:
            return


def _blank_room(burner: Burner, device: str, n: int, medium: Optional[Medium]) -> Optional[int]:
    info = burner.media(device)
    if info.status != BLANK:
        raise RuleRefused(f"device {device}: the disc {'for disc ' + str(n) + ' ' if n > 1 else ''}"
                          f"is not blank ({info.status}): insert a blank disc")
    rooms = [r for r in (info.free, medium.capacity if medium else None) if r is not None]
    return min(rooms) if rooms else None


def _to_device(job: _Burn, plan: list, whole: dict, device: str, burner: Burner,
               next_disc: Optional[NextDisc]) -> None:
    for n, studies in enumerate(plan, 1):
        if n > 1 and not next_disc(n, len(plan)):  # type: ignore[misc]
            raise Cancelled(f"cancelled before disc {n} of {len(plan)}")
        room = _blank_room(burner, device, n, job.options.medium)
        part = _slice(job.progress, (n - 1) / len(plan), n / len(plan))
        staged = job.prepare(studies, n, len(plan), whole, _slice(part, 0.0, 0.3))
        _check_fits(staged, room, f"the disc in {device}")
        burner.write(staged, device, _slice(part, 0.3, 0.75), job.cancel)
        verification = None
        if job.options.verify:
            back = burner.read_back(staged, device)
            check = _slice(part, 0.75, 1.0)
            verification = (manifest.verify_image(back.image, staged.digests, check, job.cancel)
                            if back.image is not None else
                            manifest.verify_tree(back.folder, staged.digests, check, job.cancel))
        job.finish(staged, device, verification)
        if verification is not None and not verification.ok:
            return
        burner.eject(device)


def burn(home: Home, user: User | str, study_uids: list[str], *, iso_path: Optional[Path] = None,
         device: Optional[str] = None, options: Optional[BurnOptions] = None,
         next_disc: Optional[NextDisc] = None, burner: Optional[Burner] = None,
         progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> BurnResult:
    """Burn *study_uids* to an ISO image (*iso_path*) or a drive (*device*)."""
    if (iso_path is None) == (device is None):
        raise BadInput("burn: give either an ISO file or a device")
    if isinstance(user, User):
        user.require("export", "burn discs")
        user = user.name
    options = options or BurnOptions()
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    db = home.connect()
    job: Optional[_Burn] = None
    outcome, note, studies = audit.SERIOUS_FAILURE, "failed", []
    try:
        studies = selection.load(home, db, study_uids)
        job = _Burn(home, user, options, progress, cancel)
        room = options.medium.capacity if options.medium else None
        if device is not None:
            burner = burner or for_system()
            room = _blank_room(burner, device, 1, options.medium)
        if not options.keep_compressed:
            studies = decompress.with_decoded_sizes(studies)
        plan = capacity.plan(studies, room, options.web)
        job.result.planned = len(plan)
        if device is not None and len(plan) > 1 and next_disc is None:
            raise RuleRefused(f"burn: the selection needs {len(plan)} discs and nobody can be "
                              "asked for the next one (use --iso, or a terminal)")
        whole = {s.study_instance_uid: s.instance_count for s in studies}
        if device is not None:
            _to_device(job, plan, whole, device, burner, next_disc)  # type: ignore[arg-type]
        else:
            _to_iso(job, plan, whole, Path(iso_path))  # type: ignore[arg-type]
        result = job.result
        outcome = audit.SUCCESS if (result.verified or not options.verify) and result.complete \
            else audit.MINOR_FAILURE
        note = "verified" if result.verified else ("not verified" if not options.verify
                                                   else "verification failed")
        return result
    except Cancelled:
        note = "cancelled"
        raise
    except Exception as e:
        note = f"failed: {e}"[:300]
        raise
    finally:
        where = f"ISO {iso_path}" if iso_path is not None else f"device {device}"
        _audit(db, user, studies, job.result if job else None, where, options.anonymise,
               outcome, note)
        db.close()
        if job is not None:
            job.close()


def _audit(db, user: str, studies, result: Optional[BurnResult], where: str, anonymised: bool,
           outcome: str, note: str) -> None:
    discs = len(result.discs) if result else 0
    planned = result.planned if result else 0
    instances = sum(d.instances for d in result.discs) if result else 0
    detail = (f"burn to {where}: {instances} objects on {discs} of {planned} disc(s)"
              f"{', anonymised' if anonymised else ''}; {note}")
    with transaction(db):
        audit.record(db, user, "burn", audit.EXPORT, outcome=outcome,
                     objects=[s.study_instance_uid for s in studies], detail=detail)
