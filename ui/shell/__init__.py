"""The main window's frame: menus, tools, jobs panel, settings, importing."""
