"""The packaged app's entry point: the same `latent-studio` command as the pip install."""

import sys

from latentstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
