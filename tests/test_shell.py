"""The shell reader: commands split at operators outside quotes, words unquoted like shlex."""

import shlex

import pytest

from layerbot.analysis.shell import commands, operators, raw_words, split_words


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


def test_shell_keywords_are_not_part_of_a_command_text() -> None:
    script = "if ! pnpm install; then exit 1; fi; until curl -f localhost; do sleep 1; done"
    found = [(c.program, c.text) for c in commands(script)]
    assert ("pnpm", "pnpm install") in found
    assert ("exit", "exit 1") in found
    assert ("sleep", "sleep 1") in found
    assert ("curl", "curl -f localhost") in found


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


def test_subshells_split_into_their_commands() -> None:
    found = commands("(cd /src && make install) && rm -rf /src; { apk del .deps; }")
    assert [c.argv for c in found] == [
        ("cd", "/src"),
        ("make", "install"),
        ("rm", "-rf", "/src"),
        ("apk", "del", ".deps"),
    ]
    assert operators("(cd /src && make) && rm -rf /src") == ["(", "&&", ")", "&&"]


def test_substitutions_and_backticks_are_one_word_and_cut_nothing() -> None:
    found = commands("apk add $(cat /pkgs | sort -u) && echo $((1<<4)) `date | cut -c1-4`")
    assert [c.argv for c in found] == [
        ("apk", "add", "$(cat /pkgs | sort -u)"),
        ("echo", "$((1<<4))", "`date | cut -c1-4`"),
    ]
    assert operators("x=$(a | b) && y") == ["&&"]


def test_operators_are_the_ones_outside_quotes_redirections_excluded() -> None:
    script = "make 2>&1 | tee log && run &>/dev/null; a |& b & c # x && y\nd || e"
    assert operators(script) == ["|", "&&", ";", "|&", "&", "#", "\n", "||"]
    assert operators("echo \"a && b\" 'c; d' e\\;f") == []


def test_raw_words_keep_quotes_for_the_heredoc_finder() -> None:
    assert raw_words("cat <<'EOF' \"<<X\" a\\ b $(( 1 << 2 ))") == [
        "cat",
        "<<'EOF'",
        '"<<X"',
        "a\\ b",
        "$(( 1 << 2 ))",
    ]


HOSTILE = 100_000


@pytest.mark.parametrize(
    ("script", "count"),
    [
        # nested parentheses: every one a subshell, one command inside
        ("(" * HOSTILE + "true" + ")" * HOSTILE, 1),
        # nested, never closed substitutions: one long word
        ("echo " + "$(" * HOSTILE, 1),
        # quotes inside quotes, alternating and never balanced the same way
        ("echo " + "\"'" * HOSTILE, 1),
        # escaped quotes in an unterminated string
        ('echo "' + '\\"' * HOSTILE, 1),
        # backticks that never close after the first pair
        ("echo " + "`" * (2 * HOSTILE + 1), 1),
        # a hundred thousand heredocs on one line, each body empty
        ("cat " + "<<E " * HOSTILE + "\n" + "E\n" * HOSTILE + "ls", 2),
        # one command per operator
        ("a && " * HOSTILE + "a", HOSTILE + 1),
        ("a & " * HOSTILE + "a", HOSTILE + 1),
    ],
)
def test_hostile_scripts_are_read_in_one_pass(script: str, count: int) -> None:
    """Linear, not a timing assert: a quadratic scan of these 100,000-deep inputs would not
    finish within the test run; the counts show the reader understood them."""
    assert len(commands(script)) == count
    assert len(raw_words(script)) >= 1


def test_heredoc_bodies_in_a_script_are_data_not_commands() -> None:
    script = (
        "cat > /etc/apt/sources.list <<EOF\ndeb http://deb.example.org stable main && rm -rf /\n"
        "EOF\napt-get update\ncat <<-'CONF' | tee /etc/app.conf\n\tnot a command\n\tCONF\n"
        "echo $((1<<2)); tr a b <<<word"
    )
    assert [c.program for c in commands(script)] == ["cat", "apt-get", "cat", "tee", "echo", "tr"]
    assert operators(script) == ["\n", "\n", "|", "\n", ";"]
