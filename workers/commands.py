"""Note commands addressed to the bot: ``recheck``, ``ignore RULE``, ``apply [all]``, ``help``.

A command is a line of a merge-request comment that starts with ``@<bot> <command>``. The bot
never reacts to its own notes or to system notes, and answers every command in its thread.
``apply`` commits fixes only for a commenter with Developer access or more, and only to a source
branch the bot may push to (never a fork, never a protected branch it cannot push to).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from layerbot.analysis.engine import INVALID_FILE
from layerbot.analysis.rules import all_rules
from layerbot.settings import Settings
from workers import metrics
from workers.comments import RULE_NAME, code_span, read_bot_state
from workers.fetch import fetch_review_input
from workers.gitlab_client import DEVELOPER_ACCESS, GitLabClient
from workers.mr_model import Discussion, MergeRequest
from workers.patches import FixedFile, fixed_files
from workers.review import mr_lock, run_review

log = logging.getLogger(__name__)

COMMANDS = ("recheck", "ignore", "apply", "help")


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


def parse_command(body: str, bot_username: str) -> Command | None:
    """The first ``@bot command [argument]`` line outside code blocks and quotes."""
    mention = re.compile(rf"^@{re.escape(bot_username)}\s+(\S+)(?:\s+(.*))?$", re.IGNORECASE)
    in_code = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code or line.startswith(">"):
            continue
        match = mention.match(line)
        if match:
            name = match.group(1).lower()
            argument = (match.group(2) or "").strip()
            return Command(name if name in COMMANDS else "unknown", argument)
    return None


def help_text(bot: str) -> str:
    def command(words: str) -> str:
        return code_span(f"@{bot} {words}")

    return "\n".join(
        [
            "I review the Dockerfiles and GitLab CI files this merge request changes. Commands:",
            "",
            f"- {command('recheck')}: review the current head again now.",
            f"- {command('ignore RULE')}: stop reporting RULE in this merge request.",
            f"- {command('apply')}: commit every safe fix to the source branch, in one commit.",
            f"- {command('apply all')}: also commit the fixes marked for review.",
            f"- {command('help')}: this message.",
        ]
    )


@dataclass(frozen=True)
class CommandOutcome:
    command: str
    status: str
    reply: str | None = None


def _thread_of(discussions: list[Discussion], note_id: int) -> str | None:
    """The thread to answer in; ``None`` for a plain comment (answered with a new comment)."""
    for discussion in discussions:
        if not discussion.individual and any(note.id == note_id for note in discussion.notes):
            return discussion.id
    return None


def handle_note(
    client: GitLabClient,
    settings: Settings,
    project_id: int,
    mr_iid: int,
    note_id: int,
    *,
    internal: bool = False,
) -> CommandOutcome:
    """Run the command in note ``note_id`` (if it holds one) and answer in its thread; the
    answer to an ``internal`` note is internal (a reply in its thread is, by GitLab's rule)."""
    note, author = client.note(project_id, mr_iid, note_id)
    bot = client.current_user()
    if note.system or author.id == bot.id:
        return CommandOutcome("", "ignored:own")
    command = parse_command(note.body, bot.username)
    if command is None:
        return CommandOutcome("", "ignored:no-command")
    with mr_lock(settings, project_id, mr_iid):
        mr = client.merge_request(project_id, mr_iid)
        discussions = client.discussions(project_id, mr_iid)
        ignored = read_bot_state(discussions, [], bot.id).ignored
        reply = _run(client, settings, mr, command, author.id, bot.username, ignored)
        thread = _thread_of(discussions, note_id)
        if thread is not None:
            client.reply(project_id, mr_iid, thread, reply)
        else:
            client.create_note(project_id, mr_iid, reply, internal=internal)
    metrics.NOTES_POSTED.labels("command").inc()
    status = "done"
    metrics.COMMANDS.labels(command.name, status).inc()
    return CommandOutcome(command.name, status, reply)


def _run(
    client: GitLabClient,
    settings: Settings,
    mr: MergeRequest,
    command: Command,
    author_id: int,
    bot: str,
    ignored: frozenset[str],
) -> str:
    if command.name in ("help", "unknown"):
        return help_text(bot)
    if not mr.is_open:
        return f"This merge request is {mr.state}; there is nothing to do."
    if command.name == "recheck":
        outcome = run_review(client, settings, mr.project_id, mr.iid)
        return f"Rechecked {mr.sha[:12]}: {outcome.findings} finding(s); the summary is current."
    if command.name == "ignore":
        return _ignore(client, settings, mr, command.argument)
    unsafe = command.argument.lower() == "all"
    return _apply(client, mr, author_id, ignored, unsafe=unsafe)


def _ignore(client: GitLabClient, settings: Settings, mr: MergeRequest, argument: str) -> str:
    rule = argument.split()[0].lower() if argument.split() else ""
    known = set(all_rules()) | {INVALID_FILE}
    if not RULE_NAME.match(rule) or rule not in known:
        return "Which rule? Name one, e.g. " + code_span("ignore pin-base-image") + "."
    run_review(client, settings, mr.project_id, mr.iid, also_ignore=frozenset({rule}))
    return f"{code_span(rule)} is ignored for this merge request."


def commit_message(files: list[FixedFile], unsafe: bool) -> str:
    kind = "every fix" if unsafe else "safe fixes"
    lines = [f"Apply layerbot {kind}", ""]
    for item in files:
        for finding in item.fixed:
            description = finding.fix.description if finding.fix else finding.message
            lines.append(f"- {finding.rule}: {description} ({finding.path}:{finding.line})")
    return "\n".join(lines) + "\n"


def _apply(
    client: GitLabClient,
    mr: MergeRequest,
    author_id: int,
    ignored: frozenset[str],
    *,
    unsafe: bool,
) -> str:
    if client.access_level(mr.project_id, author_id) < DEVELOPER_ACCESS:
        return "Only members with the Developer role or more can ask me to commit fixes."
    if mr.from_fork:
        return "The source branch is in a fork, which I cannot push to; the summary has the patch."
    if not client.can_push(mr.project_id, mr.source_branch):
        branch = code_span(mr.source_branch)
        return f"{branch} is protected against my pushes; the summary has the patch to apply."
    fetched = fetch_review_input(client, mr)
    config = fetched.config.with_disabled(*ignored)
    files = fixed_files(fetched.sources, fetched.repo, config, unsafe=unsafe)
    if not files:
        return "There is no fix to apply at " + code_span(mr.sha[:12]) + "."
    actions = [
        {
            "action": "create" if item.new_file else "update",
            "file_path": item.path,
            "content": item.after,
        }
        for item in files
    ]
    sha = client.commit(mr.project_id, mr.source_branch, commit_message(files, unsafe), actions)
    count = sum(len(item.fixed) for item in files)
    log.info("applied %d fix(es) to !%s as %s", count, mr.iid, sha[:12])
    return f"Applied {count} fix(es) in {files_list(files)} as {sha[:12]}."


def files_list(files: list[FixedFile]) -> str:
    return ", ".join(code_span(item.path) for item in files)
