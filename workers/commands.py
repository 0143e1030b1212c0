"""Note commands addressed to the bot: ``recheck``, ``ignore RULE``, ``apply [all]``, ``help``.

Commands are read by :func:`layerbot.commands.parse_command`, the reader the web side filters
with. The bot never reacts to its own notes or to system notes, and answers every command in its
thread.

Each note is acted on exactly once, whatever is retried: the answer starts with a hidden
``<!-- layerbot:reply NOTE_ID -->`` marker and an ``apply`` commit carries a
``Layerbot-Note: NOTE_ID`` trailer. A run first looks for both (a reply or commit may have
landed while its answer was lost to a timeout, a 502 or a killed worker) and only completes
what is missing: no second reply, no second commit, and a found commit is announced.

``apply`` commits for a commenter who could push to the source branch themselves
(:mod:`workers.push_rights`), never to a fork, and only on top of the analysed sha: it checks
the branch head first and sends each updated file's ``last_commit_id`` so GitLab refuses the
commit if a human changed that file meanwhile; then it says the branch moved and reviews again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from layerbot.analysis.engine import INVALID_FILE
from layerbot.analysis.rules import all_rules
from layerbot.commands import BotCommand, parse_command
from layerbot.settings import Settings
from workers import metrics
from workers.comments import RULE_NAME, code_span, read_bot_notes
from workers.fetch import fetch_review_input
from workers.gitlab_client import GitLabClient, PermanentGitLabError
from workers.mr_model import Branch, Discussion, MergeRequest, PostedNote
from workers.patches import FixedFile, fixed_files
from workers.push_rights import DEVELOPER, may_push, may_push_by_flags
from workers.review import mr_lock, run_review

log = logging.getLogger(__name__)

TRAILER = "Layerbot-Note"


def reply_marker(note_id: int) -> str:
    return f"<!-- layerbot:reply {note_id} -->"


def answered(discussions: list[Discussion], bot_id: int, note_id: int) -> bool:
    """Whether the bot already answered note ``note_id`` (its reply's first line)."""
    marker = reply_marker(note_id)
    return any(
        note.author_id == bot_id and note.body.split("\n", 1)[0].strip() == marker
        for discussion in discussions
        for note in discussion.notes
    )


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
    """Run the command in note ``note_id`` (if it holds one) once, and answer in its thread;
    the answer to an ``internal`` note is internal (a reply in its thread is, by GitLab's rule)."""
    note, author = client.note(project_id, mr_iid, note_id)
    bot = client.current_user()
    if note.system or author.id == bot.id:
        return CommandOutcome("", "ignored:own")
    command = parse_command(note.body, bot.username)
    if command is None:
        return CommandOutcome("", "ignored:no-command")
    with mr_lock(settings, project_id, mr_iid):
        discussions = client.discussions(project_id, mr_iid)
        if answered(discussions, bot.id, note_id):
            metrics.COMMANDS.labels(command.name, "already").inc()
            return CommandOutcome(command.name, "already")
        mr = client.merge_request(project_id, mr_iid)
        ignored = read_bot_notes(discussions, [], bot.id).ignored
        reply = _run(client, settings, mr, command, note, author.id, bot.username, ignored)
        body = f"{reply_marker(note_id)}\n{reply}"
        thread = _thread_of(discussions, note_id)
        if thread is not None:
            client.reply(project_id, mr_iid, thread, body)
        else:
            client.create_note(project_id, mr_iid, body, internal=internal)
    metrics.NOTES_POSTED.labels("command").inc()
    metrics.COMMANDS.labels(command.name, "done").inc()
    return CommandOutcome(command.name, "done", reply)


def _run(
    client: GitLabClient,
    settings: Settings,
    mr: MergeRequest,
    command: BotCommand,
    note: PostedNote,
    author_id: int,
    bot: str,
    ignored: frozenset[str],
) -> str:
    if command.name == "help":
        return help_text(bot)
    if not mr.is_open:
        return f"This merge request is {mr.state}; there is nothing to do."
    if command.name == "recheck":
        outcome = run_review(client, settings, mr.project_id, mr.iid)
        return f"Rechecked {mr.sha[:12]}: {outcome.findings} finding(s); the summary is current."
    if command.name == "ignore":
        return _ignore(client, settings, mr, command.argument)
    unsafe = command.argument.lower() == "all"
    return _apply(client, settings, mr, note, author_id, ignored, unsafe=unsafe)


def _ignore(client: GitLabClient, settings: Settings, mr: MergeRequest, argument: str) -> str:
    rule = argument.split()[0].lower() if argument.split() else ""
    known = set(all_rules()) | {INVALID_FILE}
    if not RULE_NAME.match(rule) or rule not in known:
        return "Which rule? Name one, e.g. " + code_span("ignore pin-base-image") + "."
    run_review(client, settings, mr.project_id, mr.iid, also_ignore=frozenset({rule}))
    return f"{code_span(rule)} is ignored for this merge request."


def commit_message(files: list[FixedFile], unsafe: bool, note_id: int) -> str:
    kind = "every fix" if unsafe else "safe fixes"
    lines = [f"Apply layerbot {kind}", ""]
    for item in files:
        for finding in item.fixed:
            description = finding.fix.description if finding.fix else finding.message
            lines.append(f"- {finding.rule}: {description} ({finding.path}:{finding.line})")
    lines += ["", f"{TRAILER}: {note_id}"]
    return "\n".join(lines) + "\n"


def _applied_before(
    client: GitLabClient, mr: MergeRequest, note: PostedNote
) -> tuple[str, int] | None:
    """The commit an earlier run of this command made (sha, fixes listed), if any."""
    trailer = re.compile(rf"^{TRAILER}: {note.id}$", re.MULTILINE)
    for commit in client.branch_commits(mr.project_id, mr.source_branch, note.created_at):
        if trailer.search(commit.message):
            fixes = sum(1 for line in commit.message.splitlines() if line.startswith("- "))
            return commit.sha, fixes
    return None


def _moved(client: GitLabClient, settings: Settings, mr: MergeRequest, head: str | None) -> str:
    """Nothing was committed: say so, and review the branch as it is now."""
    now = f" (it is at {code_span(head[:12])} now)" if head else ""
    outcome = run_review(client, settings, mr.project_id, mr.iid)
    return (
        f"The source branch moved since I analysed {code_span(mr.sha[:12])}{now}, so I committed "
        "nothing and every change on it stays as it is. I reviewed the branch again "
        f"({outcome.findings} finding(s), see the summary); ask again to apply what is left."
    )


def _commenter_may_push(
    client: GitLabClient, mr: MergeRequest, branch: Branch, role: int, author_id: int
) -> bool:
    """Whether the commenter could push to the source branch themselves (the rules when
    GitLab shows them to the bot, else the branch's flags)."""
    rules = client.protected_branches(mr.project_id)
    if rules is None:
        return may_push_by_flags(role, branch.protected, branch.developers_can_push)
    return may_push(role, author_id, branch.name, rules)


def _apply(
    client: GitLabClient,
    settings: Settings,
    mr: MergeRequest,
    note: PostedNote,
    author_id: int,
    ignored: frozenset[str],
    *,
    unsafe: bool,
) -> str:
    if mr.from_fork:
        return "The source branch is in a fork, which I cannot push to; the summary has the patch."
    branch_name = code_span(mr.source_branch)
    role = client.access_level(mr.project_id, author_id)
    if role < DEVELOPER:
        return "Only members with the Developer role or more can ask me to commit fixes."
    branch = client.branch(mr.project_id, mr.source_branch)
    if branch is None:
        return f"The source branch {branch_name} is gone; there is nothing to commit to."
    if not _commenter_may_push(client, mr, branch, role, author_id):
        return (
            f"{branch_name} is protected and you cannot push to it, so I will not push there "
            "for you; the summary has the patch."
        )
    earlier = _applied_before(client, mr, note)
    if earlier is not None:
        sha, count = earlier
        return f"Applied {count} fix(es) as {sha[:12]}."
    if not branch.bot_can_push:
        return f"{branch_name} is protected against my pushes; the summary has the patch to apply."
    if branch.head_sha != mr.sha:
        return _moved(client, settings, mr, branch.head_sha)
    fetched = fetch_review_input(client, mr)
    config = fetched.config.with_disabled(*ignored)
    files = fixed_files(fetched.sources, fetched.repo, config, unsafe=unsafe)
    if not files:
        return "There is no fix to apply at " + code_span(mr.sha[:12]) + "."
    actions = [
        {"action": "create", "file_path": item.path, "content": item.after}
        if item.new_file
        else {
            "action": "update",
            "file_path": item.path,
            "content": item.after,
            "last_commit_id": mr.sha,
        }
        for item in files
    ]
    message = commit_message(files, unsafe, note.id)
    try:
        sha = client.commit(mr.project_id, mr.source_branch, message, actions)
    except PermanentGitLabError as error:
        latest = client.branch(mr.project_id, mr.source_branch)
        if error.status != 400 or latest is None or latest.head_sha == mr.sha:
            raise
        return _moved(client, settings, mr, latest.head_sha)
    count = sum(len(item.fixed) for item in files)
    log.info("applied %d fix(es) to !%s as %s", count, mr.iid, sha[:12])
    return f"Applied {count} fix(es) in {files_list(files)} as {sha[:12]}."


def files_list(files: list[FixedFile]) -> str:
    return ", ".join(code_span(item.path) for item in files)
