"""The shell reader: commands split at operators outside quotes, words unquoted like shlex."""

import shlex

import pytest

from layerbot.analysis.shell import commands, split_words


@pytest.mark.parametrize(
    "text",
    [
        "apt-get install -y \"a b\" c\\ d 'e f'g",
        'echo "x\\"y" $HOME ${A:-b}',
        'a=1 b="2 3" cmd --x=y',
        "pip install --no-cache-dir -r requirements.txt # trailing comment",
    ],
)
def test_words_match_shlex(text: str) -> None:
    assert split_words(text) == shlex.split(text, comments=True)


def test_operators_inside_quotes_do_not_split() -> None:
    found = commands("echo \"a && b\" && apt-get install -y x; ls | grep 'q;r'\nrm -rf /tmp/*")
    assert [c.argv for c in found] == [
        ("echo", "a && b"),
        ("apt-get", "install", "-y", "x"),
        ("ls",),
        ("grep", "q;r"),
        ("rm", "-rf", "/tmp/*"),
    ]


def test_assignments_and_sudo_are_not_the_program() -> None:
    [command] = commands("sudo DEBIAN_FRONTEND=noninteractive apt-get -qy install curl")
    assert command.program == "apt-get"
    assert command.subcommand == "install"
    assert command.has_flag("-y") and command.has_flag("-q")
    assert not command.has_flag("--no-install-recommends")


def test_continuations_fold_into_one_command() -> None:
    [command] = commands("apk add \\\n    --no-cache \\\n    git")
    assert command.argv == ("apk", "add", "--no-cache", "git")


def test_unterminated_quote_is_read_to_the_end_not_an_error() -> None:
    assert split_words("echo 'never closed") == ["echo", "never closed"]


def test_a_lone_ampersand_separates_commands_but_redirections_do_not() -> None:
    assert [c.argv for c in commands("a & b")] == [("a",), ("b",)]
    assert [c.argv for c in commands("make 2>&1 | tee log")] == [("make", "2>&1"), ("tee", "log")]
    assert [c.argv for c in commands("run &>/dev/null && next")] == [
        ("run", "&>/dev/null"),
        ("next",),
    ]


def test_a_comment_ends_the_line_and_hides_the_commands_in_it() -> None:
    found = commands("apt-get install -y x # && rm -rf /var/lib/apt/lists/*\nls")
    assert [c.argv for c in found] == [("apt-get", "install", "-y", "x"), ("ls",)]
    assert [c.argv for c in commands('echo "a # b" x#y && n=${#list}')] == [
        ("echo", "a # b", "x#y")
    ]


def test_xargs_runs_the_command_it_names() -> None:
    found = commands("cat f | xargs -r -n 1 apt-get install -y && scanelf x | xargs -rt apk add")
    assert [c.argv for c in found] == [
        ("cat", "f"),
        ("apt-get", "install", "-y"),
        ("scanelf", "x"),
        ("apk", "add"),
    ]


def test_a_tool_asked_about_itself_is_a_smoke_test() -> None:
    about = [c.about_itself for c in commands("yarn --version; npm -v; yarn; yarn install -v")]
    assert about == [True, True, False, False]


def test_conditions_and_user_switches_run_the_command_they_name() -> None:
    found = commands('if ! gosu node yarn add "x@1"; then su-exec app npm ci; fi; gosu --version')
    assert [c.argv for c in found] == [
        ("yarn", "add", "x@1"),
        ("npm", "ci"),
        ("fi",),
        ("gosu", "--version"),
    ]
