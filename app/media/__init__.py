"""Media: IHE PDI discs (DICOMDIR, README.TXT, INDEX.HTM with previews, a
SHA-256 manifest), ISO 9660 images and burners, each disc read back and
checked against its manifest.

    from app.media import burn, BurnOptions, MEDIA
    result = burn(home, user, study_uids, iso_path=Path("out.iso"),
                  options=BurnOptions(label="REFERRAL"))

Modules: selection (what goes on a disc, from the cache), capacity (media
and spreading over discs), names (file ID and ISO 9660 rules), records and
dicomdir (the directory), readme and web (the text and web content),
manifest (digests and read-back), stage (one disc's file set), iso (the
image writer), burners (Linux, Windows, macOS), anonymise (the
de-identification hook), decompress (compressed images written in Explicit
VR Little Endian for a disc meeting the general-purpose profile; the
profile a disc meets), burn (the job).
"""

from app.media.burn import BurnOptions, BurnResult, DiscResult, burn
from app.media.capacity import MEDIA, Medium, custom_medium, medium

__all__ = ["burn", "BurnOptions", "BurnResult", "DiscResult", "MEDIA", "Medium", "medium",
           "custom_medium"]
