"""``python -m service`` runs the ``samplersearch`` command line."""

from service.cli import main

main()
