import platform

from airflow_provider_conversations._malloc import pin_mmap_threshold


def test_the_mmap_threshold_is_pinned_on_glibc_and_left_alone_elsewhere():
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert pin_mmap_threshold() is glibc
    assert pin_mmap_threshold() is glibc  # tried once; later calls report the same
