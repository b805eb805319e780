"""DICOMweb, the second transport (issue #16): a node configured with a base
URL instead of an AE title is queried with QIDO-RS (:mod:`.qido`),
retrieved from with WADO-RS (:mod:`.wado`) and sent to with STOW-RS
(:mod:`.stow`), over one HTTP session per node (:mod:`.client`).

The commands and the window do not choose: ``app.net.client``,
``app.net.retrieve`` and ``app.net.send`` hand a web node's work to these
modules and return the same rows and results as for a DICOM node.
"""

from __future__ import annotations

from typing import Optional

from app.net.nodes import Node, get_node


def web_node(home, name: str) -> Optional[Node]:
    """The node called *name* when it is a DICOMweb node, else None (an
    unknown name raises NotFound, as every command would)."""
    db = home.connect()
    try:
        node = get_node(db, name)
    finally:
        db.close()
    return node if node.web else None
