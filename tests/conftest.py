import sys
from pathlib import Path

# tests/support holds the shared builders and the API emulator harness.
sys.path.insert(0, str(Path(__file__).parent))
