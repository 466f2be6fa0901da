"""Quantities read as Kubernetes and JupyterHub read them (components/quantities.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.quantities import jupyterhub_bytes, kubernetes_memory, kubernetes_quantity

# kubernetes.io, "Resource Management for Pods and Containers" / the Quantity reference: what
# each suffix multiplies by. Written out here, apart from the module's own table.
KUBERNETES = {"": 1, "m": Fraction(1, 1000), "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5,
              "E": 1000**6, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
# JupyterHub's ByteSpecification (jupyterhub/traitlets.py): K M G T are powers of 1024.
JUPYTERHUB = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

numbers = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
quantities = st.tuples(numbers, st.sampled_from(sorted(KUBERNETES)))


def text(number, suffix: str) -> str:
    return f"{number.normalize():f}{suffix}"


def test_the_same_letters_mean_different_bytes():
    assert kubernetes_quantity("1G") == 10**9 < kubernetes_quantity("1Gi") == 2**30
    assert jupyterhub_bytes("1G") == 2**30
    # The case: a 1G limit under a 1Gi request is refused by Kubernetes.
    assert kubernetes_quantity("1G") < kubernetes_quantity("1Gi")
    assert kubernetes_quantity("500m") == kubernetes_quantity("0.5") == kubernetes_quantity(0.5) == Fraction(1, 2)
    assert kubernetes_quantity("1e3") == kubernetes_quantity("1k") == 1000
    assert kubernetes_quantity("2E-3") == kubernetes_quantity("2m")


@given(quantities)
def test_every_quantity_reads_as_its_number_times_its_suffix(quantity):
    number, suffix = quantity
    assert kubernetes_quantity(text(number, suffix)) == Fraction(number) * KUBERNETES[suffix]


@given(quantities, quantities)
def test_every_pair_of_quantities_in_any_units_compares_as_their_values(a, b):
    exact_a, exact_b = (Fraction(n) * KUBERNETES[s] for n, s in (a, b))
    read_a, read_b = kubernetes_quantity(text(*a)), kubernetes_quantity(text(*b))
    assert (read_a < read_b) == (exact_a < exact_b)
    assert (read_a == read_b) == (exact_a == exact_b)


@given(st.integers(min_value=1, max_value=4096), st.integers(min_value=0, max_value=9), st.sampled_from("KMGT"))
def test_a_config_memory_reaches_kubernetes_as_the_bytes_jupyterhub_means(whole, tenth, suffix):
    """limits.buildMemory and the placeholders' request go to Kubernetes; what it reads is what
    KubeSpawner gives a user pod for the same text."""
    for value in (f"{whole}{suffix}", f"{whole}.{tenth}{suffix}"):
        assert kubernetes_quantity(kubernetes_memory(value)) == jupyterhub_bytes(value)
    assert jupyterhub_bytes(f"{whole}{suffix}") == whole * JUPYTERHUB[suffix]


def test_jupyterhub_rounds_as_jupyterhub_does():
    assert jupyterhub_bytes("1.5G") == 1610612736 and kubernetes_memory("1.5G") == "1610612736"
    assert kubernetes_memory("4G") == "4Gi" and kubernetes_memory("512M") == "512Mi"
    assert jupyterhub_bytes(2147483648) == 2147483648


@pytest.mark.parametrize("bad", ["1GB", "G", "1 G", "1g", "--1", "1Gi ", True, None, [], "1.2.3"])
def test_what_is_not_a_quantity_is_refused(bad):
    with pytest.raises(ValueError):
        kubernetes_quantity(bad)
