"""Controller side of samplersearch: settings, SQL store, searchers, job runner, CLI."""
