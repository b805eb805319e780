"""DICOM reading, the keyword-to-column map, rendering."""
