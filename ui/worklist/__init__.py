"""The worklist: its model, view, bars, card, thumbnails and actions."""
