"""The converter's hooks are built at the first poll, so no profile counts cattrs' own objects."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from memwatch.hooks import BODIES

# A fresh interpreter: in this one, earlier tests have long built every hook.
_PROFILE_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    from memwatch.converter import dumps
    from memwatch.store import MemoryStore
    from memwatch.watcher import Watcher

    watcher = Watcher(background=False, auto_capture=False, store=MemoryStore())
    if sys.argv[1] == "poll":
        watcher.poll()
    profile = watcher.start_profile()
    # What the API serves while the profile runs: the profile, the listing, the status.
    dumps(watcher.get_profile(profile.id))
    [dumps(listed) for listed in watcher.list_profiles()]
    dumps(watcher.status())
    ended = watcher.end_profile(profile.id)
    print("\\n".join(d.what for d in ended.last_diff.change.details))
    """
)


def _diff_types(first_step: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROFILE_IN_A_FRESH_PROCESS, first_step],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split()


def test_a_profile_after_the_first_poll_lists_no_cattrs_type() -> None:
    """Profiled after the watcher's first poll, memwatch's serializing adds nothing to the diff."""
    assert [name for name in _diff_types("poll") if name.startswith("cattrs.")] == []


def test_without_the_first_poll_cattrs_types_show() -> None:
    """The check above can fail: with hooks built mid-profile, cattrs' objects are counted."""
    assert any(name.startswith("cattrs.") for name in _diff_types("no-poll"))


def test_the_hooks_source_stays_out_of_linecache() -> None:
    """Building every hook adds nothing to the application's linecache (cattrs would)."""
    script = (
        "import linecache, memwatch.hooks as h; before = set(linecache.cache); h.build_hooks(); "
        "print(len(set(linecache.cache) - before), len(h.BODIES))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["0", str(len(BODIES))]
