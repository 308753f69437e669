"""Tests of the memory limit readers: cgroup v2 and v1 trees in the kernel's formats, rlimits."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.cgroups import CgroupMemory
from memwatch.limits import LIMIT_ENV, MemoryLimits, MemoryReading, limit_from_env, parse_size
from memwatch.probes import RssProbe

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
#: statm: size 1000 pages, resident 300, shared 100, text 10, lib 0, data 200, dt 0.
STATM = "1000 300 100 10 0 200 0\n"
V1_UNLIMITED = "9223372036854771712\n"  # LONG_MAX rounded down to a 4 KiB page
ROOTFS = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw"
V2_MOUNT = (
    "30 27 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw"
)
V1_MOUNT = "35 31 0:32 {root} /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory"
V2_EVENTS = "low 0\nhigh 0\nmax 12\noom 3\noom_kill {kills}\noom_group_kill 0\n"
V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n"


def _tree(root: Path, cgroup: str, mounts: list[str], files: dict[str, str]) -> Path:
    """Write /proc/self/{cgroup,mountinfo,statm} and the given files under ``root``."""
    proc = root / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text("\n".join([ROOTFS, *mounts]) + "\n")
    (proc / "statm").write_text(STATM)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _v2_level(directory: str, limit: str, current: int, kills: int = 0) -> dict[str, str]:
    return {
        f"{directory}/memory.max": limit,
        f"{directory}/memory.current": f"{current}\n",
        f"{directory}/memory.events": V2_EVENTS.format(kills=kills),
    }


def _v1_level(directory: str, limit: str, usage: int, kills: int = 0) -> dict[str, str]:
    return {
        f"{directory}/memory.limit_in_bytes": limit,
        f"{directory}/memory.usage_in_bytes": f"{usage}\n",
        f"{directory}/memory.oom_control": V1_OOM_CONTROL.format(kills=kills),
    }


POD = "sys/fs/cgroup/kubepods/pod1"
CTR = f"{POD}/ctr"


# -- cgroup v2 ------------------------------------------------------------------


def test_v2_limit_of_the_process_cgroup(tmp_path):
    """A v2 cgroup's memory.max, memory.current and oom_kill count make the reading."""
    files = _v2_level(CTR, "536870912\n", 100 * MIB, kills=2)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    reading = MemoryLimits(root=root).read()
    assert reading == MemoryReading(512 * MIB, "cgroup2", 100 * MIB, 2)
    assert reading.headroom_bytes == 412 * MIB


def test_v2_parent_limit_binds_a_child_without_one(tmp_path):
    """A child with memory.max 'max' under a limited parent gets the parent's limit and usage."""
    files = {
        **_v2_level(CTR, "max\n", 50 * MIB),
        **_v2_level(POD, "268435456\n", 120 * MIB, kills=1),
    }
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    assert MemoryLimits(root=root).read() == MemoryReading(256 * MIB, "cgroup2", 120 * MIB, 1)


def test_v2_level_with_least_headroom_binds(tmp_path):
    """Of two limited levels, the one closer to its limit binds, even with the larger limit."""
    files = {
        **_v2_level(CTR, f"{300 * MIB}\n", 100 * MIB),
        **_v2_level(POD, f"{400 * MIB}\n", 350 * MIB),
    }
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    reading = MemoryLimits(root=root).read()
    assert (reading.limit_bytes, reading.used_bytes) == (400 * MIB, 350 * MIB)


def test_v2_level_without_the_controller_is_skipped(tmp_path):
    """A v2 child without memory files still sees the limit of the parent that has them."""
    files = _v2_level(POD, f"{400 * MIB}\n", 10 * MIB)
    (tmp_path / CTR).mkdir(parents=True)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    cgroup = CgroupMemory.find(root)
    assert cgroup is not None
    assert cgroup.directory == root / CTR
    assert cgroup.read() == (400 * MIB, 10 * MIB, 0)


def test_v2_container_with_its_own_cgroup_namespace(tmp_path):
    """In a cgroup namespace the process is at '/', whose files are at the mount point."""
    files = _v2_level("sys/fs/cgroup", "1073741824\n", 300 * MIB)
    root = _tree(tmp_path, "0::/\n", [V2_MOUNT], files)
    assert MemoryLimits(root=root).read() == MemoryReading(1024 * MIB, "cgroup2", 300 * MIB, 0)


def test_v2_without_limit_reports_the_resident_set(tmp_path):
    """With memory.max 'max' everywhere the source is 'none' and usage is statm's resident set."""
    files = _v2_level(CTR, "max\n", 50 * MIB, kills=4)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    assert MemoryLimits(root=root).read() == MemoryReading(None, "none", 300 * PAGE, 4)


def test_hybrid_v2_without_memory_controller_falls_back_to_v1(tmp_path):
    """A v2 hierarchy without memory files (hybrid mode) gives way to v1's memory controller."""
    mounts = [
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
        V1_MOUNT.format(root="/"),
    ]
    (tmp_path / "sys/fs/cgroup/unified").mkdir(parents=True)
    files = _v1_level("sys/fs/cgroup/memory/app", f"{64 * MIB}\n", 20 * MIB)
    root = _tree(tmp_path, "4:memory:/app\n0::/\n", mounts, files)
    assert MemoryLimits(root=root).read() == MemoryReading(64 * MIB, "cgroup1", 20 * MIB, 0)


# -- cgroup v1 ------------------------------------------------------------------


def test_v1_unlimited_value_means_no_limit(tmp_path):
    """v1's LONG_MAX-rounded 'unlimited' at every level gives source 'none'."""
    files = {
        **_v1_level("sys/fs/cgroup/memory/app", V1_UNLIMITED, 20 * MIB),
        **_v1_level("sys/fs/cgroup/memory", V1_UNLIMITED, 900 * MIB),
    }
    root = _tree(tmp_path, "9:pids:/\n4:memory:/app\n", [V1_MOUNT.format(root="/")], files)
    reading = MemoryLimits(root=root).read()
    assert reading == MemoryReading(None, "none", 300 * PAGE, 0)
    assert reading.headroom_bytes is None


def test_v1_nested_limit_of_an_ancestor(tmp_path):
    """A v1 limit on an ancestor binds with that ancestor's usage and OOM kills."""
    files = {
        **_v1_level("sys/fs/cgroup/memory/a/b", V1_UNLIMITED, 20 * MIB),
        **_v1_level("sys/fs/cgroup/memory/a", f"{128 * MIB}\n", 90 * MIB, kills=3),
        **_v1_level("sys/fs/cgroup/memory", V1_UNLIMITED, 900 * MIB),
    }
    root = _tree(tmp_path, "4:memory:/a/b\n", [V1_MOUNT.format(root="/")], files)
    assert MemoryLimits(root=root).read() == MemoryReading(128 * MIB, "cgroup1", 90 * MIB, 3)


def test_v1_container_mounted_at_its_own_cgroup(tmp_path):
    """Docker without a cgroup namespace mounts /docker/<id> itself: the files are at the mount."""
    files = _v1_level("sys/fs/cgroup/memory", f"{256 * MIB}\n", 30 * MIB)
    mounts = [V1_MOUNT.format(root="/docker/abc")]
    root = _tree(tmp_path, "4:memory:/docker/abc\n", mounts, files)
    cgroup = CgroupMemory.find(root)
    assert cgroup is not None
    assert cgroup.directory == root / "sys/fs/cgroup/memory"
    assert MemoryLimits(root=root).read().limit_bytes == 256 * MIB


def test_v1_host_path_outside_the_mount_falls_back_to_the_mount_point(tmp_path):
    """A host's cgroup path that the container's mount does not show falls back to the mount."""
    files = _v1_level("sys/fs/cgroup/memory", f"{256 * MIB}\n", 30 * MIB)
    mounts = [V1_MOUNT.format(root="/docker/abc")]
    root = _tree(tmp_path, "4:memory:/kubepods/other\n", mounts, files)
    assert MemoryLimits(root=root).read().limit_bytes == 256 * MIB


def test_v1_without_oom_counter(tmp_path):
    """An older kernel's memory.oom_control without oom_kill gives oom_kills None."""
    files = _v1_level("sys/fs/cgroup/memory/app", f"{64 * MIB}\n", 20 * MIB)
    files["sys/fs/cgroup/memory/app/memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\n"
    root = _tree(tmp_path, "4:memory:/app\n", [V1_MOUNT.format(root="/")], files)
    assert MemoryLimits(root=root).read().oom_kills is None


def test_escaped_mount_point(tmp_path):
    r"""A mount point with a space, written \040 in mountinfo, is found."""
    files = _v2_level("sys/fs/my cgroup", f"{64 * MIB}\n", 20 * MIB)
    mount = r"30 27 0:26 / /sys/fs/my\040cgroup rw - cgroup2 cgroup2 rw"
    root = _tree(tmp_path, "0::/\n", [mount], files)
    assert MemoryLimits(root=root).read().limit_source == "cgroup2"


# -- changes, garbage, missing files -----------------------------------------------


def test_kept_descriptors_see_new_values(tmp_path):
    """Files are reread on each reading: a raised limit and a new usage show up."""
    files = _v2_level(CTR, f"{64 * MIB}\n", 20 * MIB)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    limits = MemoryLimits(root=root)
    assert limits.read().limit_bytes == 64 * MIB
    (root / CTR / "memory.max").write_text(f"{96 * MIB}\n")
    (root / CTR / "memory.current").write_text(f"{70 * MIB}\n")
    assert (limits.read().limit_bytes, limits.read().used_bytes) == (96 * MIB, 70 * MIB)


def test_garbage_is_counted_and_never_raised(tmp_path):
    """A limit file holding garbage skips its level, counts an error, and recovers when fixed."""
    files = _v2_level(CTR, "lots\n", 20 * MIB)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    limits = MemoryLimits(root=root)
    assert limits.read() == MemoryReading(None, "none", 300 * PAGE, 0)
    assert limits.errors == 1
    (root / CTR / "memory.max").write_text(f"{64 * MIB}\n")
    assert limits.read().limit_bytes == 64 * MIB
    assert limits.errors == 1


@pytest.mark.parametrize(
    "missing",
    ["proc/self/cgroup", "proc/self/mountinfo", f"{CTR}/memory.current", f"{CTR}/memory.max"],
)
def test_missing_files_mean_no_cgroup(tmp_path, missing):
    """Without the membership, the mounts or the cgroup's own files, the reading has no cgroup."""
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], _v2_level(CTR, "1000000\n", 10))
    (root / missing).unlink()
    limits = MemoryLimits(root=root)
    assert limits.cgroup is None
    assert limits.read() == MemoryReading(None, "none", 300 * PAGE, None)


def test_nothing_readable_at_all(tmp_path):
    """An empty root (no /proc, no /sys) reads as no limit and unknown usage, without raising."""
    limits = MemoryLimits(root=tmp_path)
    assert limits.read() == MemoryReading(None, "none", None, None)
    assert limits.errors == 1


def test_malformed_statm_leaves_usage_unknown(tmp_path):
    """A statm without its data field counts an error and leaves the resident set unknown."""
    root = _tree(tmp_path, "0::/\n", [], {})
    (root / "proc/self/statm").write_text("12 3\n")
    limits = MemoryLimits(root=root)
    assert limits.read().used_bytes is None
    assert limits.errors == 1


# -- explicit limit and rlimits --------------------------------------------------


def test_explicit_limit_wins_against_the_resident_set(tmp_path):
    """An explicit limit wins over a tighter cgroup one and counts the resident set."""
    files = _v2_level(CTR, f"{64 * MIB}\n", 60 * MIB, kills=1)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    reading = MemoryLimits(explicit_limit=200 * MIB, root=root).read()
    assert reading == MemoryReading(200 * MIB, "env", 300 * PAGE, 1)


@pytest.fixture
def soft_rlimits():
    """Set finite soft RLIMIT_AS and RLIMIT_DATA far above any real use; restore them after."""
    saved = {
        which: resource.getrlimit(which) for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA)
    }
    try:
        for _, hard in saved.values():
            if hard != resource.RLIM_INFINITY:
                pytest.skip("needs an unlimited hard rlimit to set a soft one and restore it")
        resource.setrlimit(resource.RLIMIT_AS, (1 << 46, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_DATA, (1 << 45, resource.RLIM_INFINITY))
        yield
    finally:
        for which, limit in saved.items():
            resource.setrlimit(which, limit)


@pytest.mark.usefixtures("soft_rlimits")
def test_rlimit_with_least_headroom_is_reported(tmp_path):
    """RLIMIT_DATA (2**45) against statm's data beats RLIMIT_AS (2**46) against its size."""
    root = _tree(tmp_path, "0::/\n", [], {})
    assert MemoryLimits(root=root).read() == MemoryReading(1 << 45, "rlimit", 200 * PAGE, None)


@pytest.mark.usefixtures("soft_rlimits")
def test_cgroup_limit_beats_a_looser_rlimit(tmp_path):
    """A cgroup limit with less headroom than the rlimits is the effective one."""
    files = _v2_level(CTR, f"{64 * MIB}\n", 60 * MIB)
    root = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", [V2_MOUNT], files)
    assert MemoryLimits(root=root).read().limit_source == "cgroup2"


# -- the real machine ----------------------------------------------------------------


def _hand_read_memory_dir() -> tuple[str, Path] | None:
    """The memory cgroup directory at its conventional place, read without memwatch."""
    membership = Path("/proc/self/cgroup").read_text().splitlines()
    for line in membership:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and Path("/sys/fs/cgroup", path.lstrip("/"), "memory.max").exists():
            return "cgroup2", Path("/sys/fs/cgroup", path.lstrip("/"))
    for line in membership:
        hierarchy, controllers, path = line.split(":", 2)
        directory = Path("/sys/fs/cgroup/memory", path.lstrip("/"))
        if "memory" in controllers.split(",") and (directory / "memory.limit_in_bytes").exists():
            return "cgroup1", directory
    return None


@pytest.mark.skipif(not Path("/proc/self/cgroup").exists(), reason="needs Linux /proc")
def test_this_machine_agrees_with_its_files():
    """On this machine the reading matches the cgroup files and statm read by hand."""
    limits = MemoryLimits()
    reading = limits.read()
    assert limits.errors == 0
    found = _hand_read_memory_dir()
    if found is None:
        assert limits.cgroup is None
        return
    source, directory = found
    assert limits.cgroup is not None
    assert (limits.cgroup.source, limits.cgroup.directory) == (source, directory)
    limit_file, events_file = (
        ("memory.max", "memory.events")
        if source == "cgroup2"
        else ("memory.limit_in_bytes", "memory.oom_control")
    )
    own = (directory / limit_file).read_text().strip()
    own_limit = None if own == "max" or int(own) >= 1 << 62 else int(own)
    if reading.limit_source == "none":
        assert own_limit is None
        assert abs(reading.used_bytes - RssProbe(total=True).read()) < 16 * MIB
    elif own_limit is not None:
        assert reading.limit_bytes <= own_limit
    events = dict(line.split() for line in (directory / events_file).read_text().splitlines())
    if reading.limit_source in {"none", source} and "oom_kill" in events:
        assert reading.oom_kills is not None


# -- sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("536870912", 536870912),
        ("512MiB", 512 * MIB),
        ("512Mi", 512 * MIB),
        ("512 mib", 512 * MIB),
        ("1.5GB", 1_500_000_000),
        ("1.5GiB", 3 * 512 * MIB),
        ("2G", 2_000_000_000),
        ("100k", 100_000),
        ("64KiB", 65536),
        ("1TB", 10**12),
        ("0.5KiB", 512),
        (" 7b ", 7),
    ],
)
def test_parse_size_accepts_bytes_and_units(text, size):
    """Sizes in bytes, decimal and binary units, any case and padding, parse to bytes."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "12 parsecs", "-5MiB", "0", "0.0001b", "1e9", "5 M B"])
def test_parse_size_rejects_non_sizes(text):
    """Text without a positive number and a known unit is a ValueError."""
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


@given(st.integers(min_value=1, max_value=1 << 60))
def test_parse_size_round_trips_byte_counts(size):
    """Every positive byte count, written out, parses back to itself, with or without 'B'."""
    assert parse_size(str(size)) == size
    assert parse_size(f"{size}B") == size


@given(
    st.integers(min_value=1, max_value=1 << 40), st.sampled_from(["Ki", "Mi", "Gi", "K", "M", "G"])
)
def test_parse_size_scales_by_the_unit(count, unit):
    """A count with a unit is the count times the unit's power of 1024 or 1000."""
    power = {"K": 1, "M": 2, "G": 3}[unit[0]]
    base = 1024 if unit.endswith("i") else 1000
    assert parse_size(f"{count}{unit}") == count * base**power


def test_limit_from_env():
    """MEMWATCH_MEMORY_LIMIT gives bytes, unset or blank gives None, and a bad value names it."""
    assert limit_from_env({LIMIT_ENV: "200MiB"}) == 200 * MIB
    assert limit_from_env({}) is None
    assert limit_from_env({LIMIT_ENV: "  "}) is None
    with pytest.raises(ValueError, match=r"MEMWATCH_MEMORY_LIMIT='lots'.*not a size"):
        limit_from_env({LIMIT_ENV: "lots"})
