from __future__ import annotations

import pytest

from app.home import os_login
from app.importing.importer import import_paths
from tests.factories import write_series


@pytest.fixture
def admin():
    return os_login()


@pytest.fixture
def worklist_home(home, tmp_path, admin):
    """Three patients, five studies, known names and dates."""
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", accession="ACC100",
                 study_date="20240115", phone="+41 44 123 45 67", confidentiality="VIP",
                 birth_date="19800310")
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="b", accession="ACC101",
                 study_date="20230601", modality="MR", description="MR BRAIN", birth_date="19800310")
    write_series(src, 1, patient_id="P2", patient_name="SMITH^ANNA^MARIE", study="c",
                 accession="XY-7", study_date="20240120", sex="F")
    write_series(src, 1, patient_id="P3", patient_name="JOHNSON^PETER", study="d",
                 accession="ACC200", study_date="20220101", modality="US", description="US ABDOMEN")
    write_series(src, 1, patient_id="p3[x]", patient_name="O'BRIEN^MARY", study="e",
                 accession="ACC300", study_date="", description="NO DATE")
    import_paths(home, [src], admin)
    return home
