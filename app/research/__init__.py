"""Research projects: subjects, finding them, the RT tree, staging."""
