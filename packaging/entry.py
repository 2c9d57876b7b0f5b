"""The packaged app's entry point: the same `latent-studio` command as the pip install."""

from latentstudio.cli import run

if __name__ == "__main__":
    run()
