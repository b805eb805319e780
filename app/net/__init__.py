"""DICOM networking: nodes, query/retrieve, send, the storage listener, MWL.

Layers, bottom up:

- ``wire``: one socket (TCP or TLS), PDU framing, idle timeout and the
  cancel hook. Blocking and single-threaded: one association is one socket
  and one thread, no reactor (shared/FACTS.md: pynetdicom's threaded
  reactor tops out far below DCMTK).
- ``association``: A-ASSOCIATE request/accept (PDUs from pynetdicom),
  release, abort, presentation contexts.
- ``dimse``: command sets, messages, data sets streamed from files; received
  ones held in memory for the intake (:class:`sinks.MemorySink`, C-GET and
  the listener), a large one going on into a file (:class:`sinks.FileSink`).
- ``nodes``, ``tls``: configuration (``nodes`` table, settings).
- ``client`` (C-ECHO, C-FIND), ``retrieve/`` (C-GET and C-MOVE of a study
  or of series: ``study``, ``series``, ``plan``, ``parallel``), ``send``
  (C-STORE), ``outbox/`` (what waits to be sent), ``mwl`` (worklist),
  ``listener`` + ``storage_scp`` (Storage SCP) and ``intake`` (received
  files -> the importer's path, each durable before its C-STORE is
  answered): the functions the command line and the window call.
"""
