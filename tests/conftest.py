import sys
from pathlib import Path

# tests/support holds the shared builders and the API emulator harness.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_terminal_summary(terminalreporter):
    """The hostile-input properties' generated case counts, in every run's summary (not only with -s)."""
    module = sys.modules.get("test_hostile_input")
    runs = getattr(module, "RUNS", None)
    if runs and any(runs.values()):
        terminalreporter.write_line(f"hypothesis: {sum(runs.values())} generated cases ran over {len(runs)} "
                                    f"properties ({', '.join(f'{name}: {count}' for name, count in runs.items())})")
