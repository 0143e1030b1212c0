"""The idioms the package rules read: clean-ups in every spelling, pip's own reading of
PIP_NO_CACHE_DIR, apt actions behind options, caches moved by flags and variables, and base
images named through ARG defaults."""

from __future__ import annotations

import pytest

from layerbot.analysis.dockerfile import parse
from layerbot.analysis.package_caches import (
    apt_action,
    apt_update,
    cache_named,
    pip_cache_disabled,
    pip_install,
    removed_paths,
)
from layerbot.analysis.shell import Command, commands


def one(text: str) -> Command:
    [command] = commands(text)
    return command


@pytest.mark.parametrize(
    ("text", "installs"),
    [
        ("pip install flask", True),
        ("pip3 install flask", True),
        ("/usr/local/bin/pip3.12 install flask", True),
        ("python -m pip install flask", True),
        ("python3.11 -m pip install flask", True),
        ("pip3.12a install flask", False),
        ("pip2 install flask", False),
        ("pipx install black", False),
        ("python3.11.2 -m pip install flask", False),
        ("python3 -m pip download flask", False),
    ],
)
def test_pip_install_in_its_spellings(text: str, installs: bool) -> None:
    assert pip_install(one(text)) is installs


@pytest.mark.parametrize(
    "text",
    [
        "rm -rf /var/lib/apt/lists/*",
        'rm -rf "/var/lib/apt/lists/"*',
        "rm -fr /tmp/* /var/lib/apt/lists/* /var/tmp/*",
        "find /var/lib/apt/lists -mindepth 1 -delete",
        "find /var/lib/apt/lists/ -type f -exec rm -f {} +",
        "apt-get distclean",
        "apt-get dist-clean",
        "rm -rf /var/lib/apt",  # the folder that holds the lists
    ],
)
def test_every_spelling_of_the_lists_removal_counts(text: str) -> None:
    assert cache_named("apt-lists").removed_by(one(text))


@pytest.mark.parametrize(
    "text",
    [
        "apt-get clean",
        "find /var/lib/apt/lists -name '*.lz4' -delete",
        "echo rm -rf /var/lib/apt/lists/*",
    ],
)
def test_what_leaves_lists_behind_is_no_lists_removal(text: str) -> None:
    assert not cache_named("apt-lists").removed_by(one(text))


def test_find_reports_its_starting_points_only_when_it_deletes_everything() -> None:
    assert removed_paths(one("find /root/.npm /tmp -delete")) == ["~/.npm", "/tmp"]
    assert removed_paths(one("find /usr/local -name tests -exec rm -rf {} +")) == []


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "off", "0", "false", "No"])
def test_pip_turns_its_cache_off_for_every_boolean(value: str) -> None:
    assert pip_cache_disabled(value)


@pytest.mark.parametrize("value", ["", "maybe", "/tmp/pip"])
def test_pip_rejects_what_is_no_boolean(value: str) -> None:
    assert not pip_cache_disabled(value)


def test_apt_action_skips_option_values() -> None:
    assert apt_action(one("apt-get -o Acquire::Retries=3 -qq update")) == "update"
    assert apt_action(one("apt-get -y -o Dpkg::Options::=--force-confold install x")) == "install"
    assert apt_update(one("apt-get install --update -y socat"))
    assert not apt_update(one("apt-get install -y socat"))


def test_a_cache_moved_by_a_flag_or_variable_is_followed() -> None:
    yarn, pip = cache_named("yarn"), cache_named("pip")
    assert yarn.moved_to(one("yarn install --cache-folder /tmp/yc"), {}) == ("/tmp/yc",)
    assert pip.moved_to(one("pip install --cache-dir=/home/app/.pc x"), {}) == ("~/.pc",)
    assert pip.moved_to(one("pip install x"), {"PIP_CACHE_DIR": "/var/cache/pip"}) == (
        "/var/cache/pip",
    )
    assert pip.moved_to(one("pip install x"), {}) == ()


@pytest.mark.parametrize(
    ("text", "image"),
    [
        ("ARG BASE\nFROM $BASE\n", "$BASE"),
        ("ARG V=3.20\nARG IMAGE=alpine:${V}\nFROM ${IMAGE}\n", "alpine:3.20"),
        ("FROM ${UNSET:-redis:7.2}\n", "redis:7.2"),
        ("ARG T=latest\nFROM node:${T}\n", "node:latest"),
        ("ARG R\nFROM ${R}/nginx\n", "${R}/nginx"),
    ],
)
def test_base_images_resolve_as_buildkit_expands_arg_defaults(text: str, image: str) -> None:
    doc = parse(text)
    assert str(doc.resolved_base(doc.final_stage)) == image
