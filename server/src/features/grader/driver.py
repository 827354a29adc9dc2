"""The companion's hands inside a course environment: one nbgrader operation per process.

Runs with the course environment's python (nbgrader from PyPI), never the companion's. Reads one
JSON request on stdin and writes one JSON answer on stdout; nbgrader's own logging goes to stderr,
which the companion keeps as the operation's log. Answers are built from nbgrader's Python API
(NbGraderAPI, Gradebook, the exchange classes), never from its log text.

Answer: {"ok": true, "value": ...} or {"ok": false, "code": "...", "message": "..."}.
"""
import contextlib
import datetime
import json
import os
import re
import resource
import sys
import traceback


class Failure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


GRADEBOOK = ("gradebook", "gradebook.db")


def gradebook_path(req):
    """<course>/gradebook/gradebook.db: a folder of its own, so an autograde unit, which must write
    the gradebook (and SQLite its journal beside it), can be given that folder and nothing else of
    the course read-write (units-objects.ts)."""
    return os.path.join(req["courseDir"], *GRADEBOOK)


def course_config(req):
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = req["courseDir"]
    c.CourseDirectory.course_id = req["course"]
    # The busy timeout lets parallel autograde units wait for each other's short gradebook writes.
    c.CourseDirectory.db_url = "sqlite:///" + gradebook_path(req)
    c.Exchange.root = req["exchange"]
    c.Exchange.path_includes_course = True
    c.Exchange.timezone = "UTC"
    c.CollectApp.check_owner = False
    c.ExecutePreprocessor.timeout = req.get("cellTimeoutSeconds", 30)
    c.Execute.timeout = req.get("cellTimeoutSeconds", 30)
    c.LateSubmissionPlugin.penalty_method = req.get("latePenalty", "none")
    return c


def nbgrader_api(req):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(req)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def wait_for_writers():
    """SQLite waits up to 30 s for another writer (parallel autograde units) instead of 5 s."""
    import nbgrader.api

    original = nbgrader.api.create_engine

    def create_engine(url, *args, **kwargs):
        if str(url).startswith("sqlite"):
            kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        return original(url, *args, **kwargs)

    nbgrader.api.create_engine = create_engine


@contextlib.contextmanager
def gradebook(req):
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + gradebook_path(req), req["course"]) as gb:
        yield gb


def iso(value):
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text):
    if text is None:
        return None
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def nbgrader_words(text):
    """What nbgrader said went wrong, without its traceback: the exception's own message.

    NbGraderAPI puts the whole traceback (with the course environment's paths) in "error"; a
    person needs its last line, the message, with the exception's module path dropped.
    """
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return "nbgrader failed without saying why."
    if not lines[0].startswith("Traceback"):
        return "\n".join(lines)[-4000:]
    last = lines[-1]
    head, sep, message = last.partition(": ")
    if sep and re.fullmatch(r"[\w.]+", head):
        last = message
    if last.startswith("No notebooks were matched"):
        return ("There is nothing to work on yet for this step (no notebooks matched): for feedback, "
                "autograde the submissions first; for generate, add notebooks to the source folder.")
    return last[-4000:]


def checked(result):
    """NbGraderAPI answers {success, log, error}; a failure becomes ours, with nbgrader's words."""
    if result is None:
        raise Failure("nbgrader_failed", "nbgrader did not run this operation")
    if not result.get("success"):
        raise Failure("nbgrader_failed", nbgrader_words(result.get("error") or result.get("log")))
    return {"log": result.get("log", "")[-20000:]}


# ---- course and assignments -------------------------------------------------------------------

def op_ensure(req):
    """Create the course directory layout and an nbgrader_config.py for people using the CLI there."""
    root = req["courseDir"]
    os.makedirs(os.path.join(root, "source"), exist_ok=True)
    _move_gradebook(req)
    os.makedirs(os.path.join(req["exchange"], req["course"]), exist_ok=True)
    # Students write into it (nbgrader's exchange): world-writable like /tmp, and sticky like /tmp,
    # so nobody removes or renames what someone else put there.
    os.chmod(req["exchange"], 0o1777)
    with open(os.path.join(root, "nbgrader_config.py"), "w") as fh:
        fh.write(
            "# Written by the Hotstepper companion; the same settings it runs nbgrader with.\n"
            "c = get_config()  # noqa\n"
            f"c.CourseDirectory.root = {root!r}\n"
            f"c.CourseDirectory.course_id = {req['course']!r}\n"
            f"c.CourseDirectory.db_url = {'sqlite:///' + gradebook_path(req)!r}\n"
            f"c.Exchange.root = {req['exchange']!r}\n"
            "c.Exchange.path_includes_course = True\n"
            "c.Exchange.timezone = 'UTC'\n"
            "c.CollectApp.check_owner = False\n"
            f"c.ExecutePreprocessor.timeout = {req.get('cellTimeoutSeconds', 30)!r}\n"
            f"c.LateSubmissionPlugin.penalty_method = {req.get('latePenalty', 'none')!r}\n"
        )
    with gradebook(req):
        pass
    return {}


def _move_gradebook(req):
    """A course made before the gradebook had its own folder: <course>/gradebook.db moves there
    (with a journal SQLite left behind, so an interrupted write is still rolled back)."""
    new = gradebook_path(req)
    os.makedirs(os.path.dirname(new), exist_ok=True)
    old = os.path.join(req["courseDir"], GRADEBOOK[-1])
    if os.path.isfile(old) and not os.path.exists(new):
        for suffix in ("-journal", "-wal", "-shm", ""):
            if os.path.exists(old + suffix):
                os.rename(old + suffix, new + suffix)


def op_assignments(req):
    api = nbgrader_api(req)
    out = []
    for a in api.get_assignments():
        out.append({
            "name": a["name"],
            "duedate": iso(parse_time(a["duedate"])) if a.get("duedate") else None,
            "status": a["status"],
            "releaseable": bool(a.get("releaseable")),
            "numSubmissions": a.get("num_submissions", 0),
            "maxScore": a.get("max_score", 0),
            "averageScore": a.get("average_score", 0),
            "notebooks": sorted(
                os.path.splitext(os.path.basename(p))[0]
                for p in _glob(os.path.join(req["courseDir"], "source", a["name"], "*.ipynb"))),
            "sources": _sources(req, a["name"]),
        })
    return out


def _sources(req, assignment):
    """The source notebooks with size and last change, for the teacher's panel."""
    out = []
    for path in sorted(_glob(os.path.join(req["courseDir"], "source", assignment, "*.ipynb"))):
        st = os.stat(path)
        out.append({
            "name": os.path.splitext(os.path.basename(path))[0],
            "size": st.st_size,
            "modified": iso(datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)),
        })
    return out


def _glob(pattern):
    import glob

    return glob.glob(pattern)


def op_put_assignment(req):
    with gradebook(req) as gb:
        gb.update_or_create_assignment(req["assignment"], duedate=parse_time(req.get("duedate")))
    os.makedirs(os.path.join(req["courseDir"], "source", req["assignment"]), exist_ok=True)
    return {}


def op_put_notebook(req):
    """Put an instructor's notebook into source/<assignment>/, checked to be one."""
    import nbformat

    try:
        nb = nbformat.reads(req["content"], as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - any parse failure means: not a notebook
        raise Failure("not_a_notebook", f"{req['notebook']}.ipynb is not a Jupyter notebook: {err}")
    folder = os.path.join(req["courseDir"], "source", req["assignment"])
    os.makedirs(folder, exist_ok=True)
    nbformat.write(nb, os.path.join(folder, req["notebook"] + ".ipynb"))
    return {}


def op_read_notebook(req):
    """A notebook of source/ or release/ (the student version) as text; names are checked by the
    companion (plain names, no separators), and a link is not followed out of the folder."""
    folder = os.path.join(req["courseDir"], req["folder"], req["assignment"])
    path = os.path.join(folder, req["notebook"] + ".ipynb")
    if os.path.islink(path) or not os.path.isfile(path):
        raise Failure(req["missing"], req["missingMessage"])
    with open(path, encoding="utf-8") as fh:
        content = fh.read()
    modified = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
    return {"name": req["notebook"], "content": content, "modified": iso(modified)}


def op_validate(req):
    """The source notebooks' nbgrader cells as generate_assignment reads them, in sentences.

    Static on purpose: running the teacher's cells (to see tests fail) would run their code in the
    companion, outside the units' sandbox; the teacher runs them in their own server instead.
    """
    folder = os.path.join(req["courseDir"], "source", req["assignment"])
    paths = sorted(_glob(os.path.join(folder, "*.ipynb")))
    if not paths:
        return {"problems": [{"notebook": "", "cell": None, "gradeId": None, "message":
                              "There are no notebooks in this assignment yet: add notebooks first."}]}
    out = []
    for path in paths:
        out.extend(_problems_of(os.path.splitext(os.path.basename(path))[0], path))
    return {"problems": out}


# What the Create Assignment toolbar calls each kind of cell, for sentences a teacher recognises.
_KINDS = {(True, True): "manually graded answer", (True, False): "autograder tests",
          (False, True): "autograded answer"}


def _problems_of(name, path):
    """One notebook's problems: unreadable, unmarked, repeated or missing grade ids, points, tests
    outside code cells, and whatever nbgrader's own generate preprocessors refuse."""
    import copy

    import nbformat
    from nbgrader import utils
    from nbgrader.preprocessors import CheckCellMetadata, ClearSolutions, LockCells

    def problem(cell, message, grade_id=None):
        return {"notebook": name, "cell": cell, "gradeId": grade_id, "message": message}

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - any parse failure means: not a notebook
        return [problem(None, f"{name}.ipynb is not a readable notebook: put it again from Lab.")]
    out, seen, graded = [], {}, False
    for i, cell in enumerate(nb.cells, start=1):
        grade, solution = utils.is_grade(cell), utils.is_solution(cell)
        task, locked = utils.is_task(cell), utils.is_locked(cell)
        if not (grade or solution or task or locked):
            continue
        graded = graded or grade or task
        kind = "task" if task else _KINDS.get((grade, solution), "read-only")
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not gid:
            out.append(problem(i, f"Cell {i} ({kind}) has no grade id: give it one in the toolbar."))
        elif gid in seen:
            out.append(problem(i, f"Cells {seen[gid]} and {i} both have the grade id \"{gid}\": "
                                  "every marked cell needs its own.", gid))
        else:
            seen[gid] = i
        if (grade or task) and not _positive(cell.metadata["nbgrader"].get("points")):
            out.append(problem(i, f"Cell {i} ({kind}) has no points: give it more than 0.", gid))
        if grade and not solution and not task and cell.cell_type != "code":
            out.append(problem(i, f"Cell {i} holds autograder tests but is not a code cell: "
                                  "make it a code cell or another kind.", gid))
    if not graded:
        out.append(problem(None, f"{name}.ipynb has no graded cell yet: mark answers and tests "
                                 "with the Create Assignment toolbar."))
    if out:
        return out
    # nbgrader's own checks, on a copy in memory: nothing is written, no code runs.
    try:
        resources = {}
        work = copy.deepcopy(nb)
        for pre in (CheckCellMetadata(), ClearSolutions(), LockCells()):
            work, resources = pre.preprocess(work, resources)
    except Exception as err:  # noqa: BLE001 - nbgrader's refusal, in its words
        text = "".join(traceback.format_exception_only(err)).strip().splitlines()[-1]
        return [problem(None, f"{name}.ipynb: nbgrader would refuse it: {nbgrader_words(text)}")]
    return []


def op_test_source(req):
    """The source notebooks run as `nbgrader validate` runs them (solutions in place): each graded
    cell that does not get its full points, with the end of its error. Only ever in a unit (a pod,
    or the local executor's sandbox): this is the teacher's code. The answer stays small, as a
    Job's termination message carries it (4 kB)."""
    import nbformat
    from nbgrader.validator import Validator

    folder = os.path.join(req["courseDir"], "source", req["assignment"])
    failures, count = [], 0
    for path in sorted(_glob(os.path.join(folder, "*.ipynb"))):
        name = os.path.splitext(os.path.basename(path))[0]
        cells = nbformat.read(path, as_version=4).cells
        results = Validator(ignore_checksums=True).validate(path)
        for cell in results.get("type_changed", []):
            count += 1
            failures.append({"notebook": name, "cell": None, "gradeId": None,
                             "message": f"a {cell['new_type']} cell was made a {cell['old_type']} cell"})
        for cell in results.get("failed", []):
            count += 1
            index = next((i for i, c in enumerate(cells, start=1)
                          if c.source.strip() == cell["source"]), None)
            grade_id = cells[index - 1].metadata.get("nbgrader", {}).get("grade_id") if index else None
            failures.append({"notebook": name, "cell": index, "gradeId": grade_id,
                             "message": _error_words(cell.get("raw_error") or "")})
    return {"answer": {"failures": failures[:12], "count": count}}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_words(raw):
    """A cell's error in a line: the exception, and the cell's line it came from (IPython marks
    it with an arrow), e.g. "AssertionError at: assert squares(3) == [1, 4, 10]"."""
    lines = [ln.rstrip() for ln in _ANSI.sub("", raw).splitlines() if ln.strip()]
    if not lines:
        return "it does not get its points"
    last = lines[-1].strip().rstrip(":").strip()
    arrow = next((ln for ln in lines if ln.lstrip().startswith("---->")), None)
    where = re.sub(r"^\s*---->\s*\d+\s?", "", arrow).strip() if arrow else ""
    return (f"{last} at: {where}" if where else last)[:200]


def _positive(points):
    try:
        return float(points) > 0
    except (TypeError, ValueError):
        return False


def op_generate(req):
    return checked(nbgrader_api(req).generate_assignment(req["assignment"], force=True, create=True))


def op_release(req):
    return checked(nbgrader_api(req).release_assignment(req["assignment"]))


def op_unrelease(req):
    return checked(nbgrader_api(req).unrelease(req["assignment"]))


def _plain_file_copy(src, dst):
    """shutil's copy_function, but never through a link, and only a plain file with one name."""
    import shutil
    import stat

    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise OSError(f"{os.path.basename(src)} is not a plain file")
        with os.fdopen(os.dup(fd), "rb") as data, open(dst, "wb") as out:
            shutil.copyfileobj(data, out, 1024 * 1024)
    finally:
        os.close(fd)
    return dst


def _collect_plain_only():
    """Collect copies from the exchange's inbound, which students write: links (to the course's
    source notebooks, the gradebook, another student's work), hard links and special files in a
    submission are left out, with a warning in the log; a submission that is itself a link is not
    collected. nbgrader's own copy follows links."""
    import shutil
    import stat

    from nbgrader.exchange.default.collect import ExchangeCollect
    from nbgrader.utils import ignore_patterns

    def plain(path):
        st = os.lstat(path)
        return stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)

    def do_copy(self, src, dest, log=None):
        if os.path.islink(src) or not os.path.isdir(src):
            self.log.warning("Not collected: %s is not a plain folder", os.path.basename(src))
            return
        if self.get_size(src) > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError("Directory size is too big")
        patterns = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                   max_file_size=self.coursedir.max_file_size, log=self.log)

        def ignore(directory, names):
            out = set(patterns(directory, names))
            for name in names:
                path = os.path.join(directory, name)
                if name not in out and not plain(path):
                    self.log.warning("Left out of %s: %s is not a plain file or folder",
                                     os.path.basename(src), os.path.relpath(path, src))
                    out.add(name)
            return out

        shutil.copytree(src, dest, ignore=ignore, copy_function=_plain_file_copy)

    ExchangeCollect.do_copy = do_copy


def op_collect(req):
    _collect_plain_only()
    return checked(nbgrader_api(req).collect(req["assignment"], update=True))


def _keep_mount_points():
    """In a Kubernetes unit, autograded/<student>/<assignment> is a mount of its own (the one folder
    of the course's files, beside the gradebook's, that the unit may write). nbgrader removes it to
    grade again or after a failure; a mount point cannot be removed, so there it is emptied."""
    import nbgrader.converters.base as base
    import shutil

    def rmtree(path):
        try:
            shutil.rmtree(path)
        except OSError:
            # What is left is an empty folder that could not go: a mount point.
            if not os.path.isdir(path) or os.listdir(path):
                raise

    base.rmtree = rmtree


def op_autograde(req):
    """One unit of the queue: one student's submission. Memory is capped for it and its kernel."""
    limit = req.get("memoryBytes")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _keep_mount_points()
    api = nbgrader_api(req)
    result = api.autograde(req["assignment"], req["student"], force=True, create=True)
    if not result.get("success"):
        err = result.get("error") or ""
        if "database is locked" in err:
            raise Failure("gradebook_locked", "The gradebook was locked by another writer for 30 s.")
        raise Failure("nbgrader_failed", nbgrader_words(err or result.get("log", "")))
    return {"log": result.get("log", "")[-20000:]}


def op_generate_feedback(req):
    return checked(nbgrader_api(req).generate_feedback(req["assignment"], req.get("student")))


def op_release_feedback(req):
    return checked(nbgrader_api(req).release_feedback(req["assignment"], req.get("student")))


# ---- per-student state ------------------------------------------------------------------------

def op_submissions(req):
    """Every roster student's row for one assignment: gradebook scores plus the exchange's inbound."""
    api = nbgrader_api(req)
    a_name = req["assignment"]
    rows = {s["student"]: s for s in api.get_submissions(a_name)}
    inbound = _inbound(req, a_name)
    feedback_dir = os.path.join(req["courseDir"], "feedback")
    out = []
    with gradebook(req) as gb:
        try:
            assignment = gb.find_assignment(a_name)
        except Exception:  # noqa: BLE001
            raise Failure("assignment_unknown", f"There is no assignment {a_name!r} in this course.")
        extensions = {s.student.id: s.extension for s in assignment.submissions}
        students = {s.id: s for s in gb.students}
        late = {s.student.id: s.total_seconds_late for s in assignment.submissions if s.timestamp}
        for sid in sorted(set(students) | set(rows) | set(inbound)):
            row = rows.get(sid, {})
            st = students.get(sid)
            ext = extensions.get(sid)
            # nbgrader counts any gradebook submission row, and an extension granted before a
            # submission makes one: the course directory says what was collected and autograded.
            collected = os.path.isdir(os.path.join(req["courseDir"], "submitted", sid, a_name))
            autograded = bool(row.get("autograded")) and os.path.isdir(
                os.path.join(req["courseDir"], "autograded", sid, a_name))
            out.append({
                "student": sid,
                "firstName": getattr(st, "first_name", None),
                "lastName": getattr(st, "last_name", None),
                "submitted": collected or sid in inbound,
                "collected": collected,
                "submittedAt": inbound.get(sid) or (iso(parse_time(row["timestamp"])) if row.get("timestamp") else None),
                "secondsLate": late.get(sid, 0) or 0,
                "extensionSeconds": int(ext.total_seconds()) if ext else 0,
                "autograded": autograded,
                "needsManualGrade": autograded and bool(row.get("needs_manual_grade")),
                "score": row.get("score") if autograded else None,
                "maxScore": row.get("max_score"),
                "feedbackGenerated": os.path.isdir(os.path.join(feedback_dir, sid, a_name)),
            })
    return out


def _inbound(req, a_name):
    """Latest submission time per student in the exchange's inbound (nbgrader's file layout)."""
    folder = os.path.join(req["exchange"], req["course"], "inbound")
    latest = {}
    if not os.path.isdir(folder):
        return latest
    for name in os.listdir(folder):
        parts = name.split("+")
        if len(parts) < 3 or parts[1] != a_name:
            continue
        stamp = os.path.join(folder, name, "timestamp.txt")
        try:
            from nbgrader.utils import parse_utc

            when = iso(parse_utc(open(stamp).read().strip()))
        except Exception:  # noqa: BLE001 - a half-written submission has no time yet
            continue
        if when and (parts[0] not in latest or when > latest[parts[0]]):
            latest[parts[0]] = when
    return latest


def op_student_view(req):
    """One student's side of every assignment: due date, extension, latest submission, score."""
    sid = req["student"]
    out = []
    with gradebook(req) as gb:
        for a in gb.assignments:
            try:
                sub = gb.find_submission(a.name, sid)
            except Exception:  # noqa: BLE001 - nothing submitted or granted yet
                sub = None
            ext = sub.extension if sub is not None else None
            autograded = sub is not None and sub.timestamp is not None and any(
                g.auto_score is not None for nb in sub.notebooks for g in nb.grades)
            out.append({
                "assignment": a.name,
                "duedate": iso(a.duedate),
                "extensionSeconds": int(ext.total_seconds()) if ext else 0,
                "submittedAt": _inbound(req, a.name).get(sid),
                "score": sub.score if autograded else None,
                "maxScore": a.max_score,
            })
    return out


def op_grant_extension(req):
    with gradebook(req) as gb:
        gb.update_or_create_submission(req["assignment"], req["student"])
        seconds = req["seconds"]
        minutes = seconds / 60.0
        gb.grant_extension(req["assignment"], req["student"], minutes=minutes)
    return {}


# ---- manual grading ---------------------------------------------------------------------------

def op_grades(req):
    """One submission's notebooks: each graded cell with its source, outputs, grade and comment."""
    import nbformat

    a_name, sid = req["assignment"], req["student"]
    out = []
    with gradebook(req) as gb:
        try:
            submission = gb.find_submission(a_name, sid)
        except Exception:  # noqa: BLE001
            raise Failure("submission_unknown", f"{sid} has no autograded submission of {a_name}.")
        for nb in submission.notebooks:
            path = os.path.join(req["courseDir"], "autograded", sid, a_name, nb.name + ".ipynb")
            cells = {}
            if os.path.exists(path):
                for cell in nbformat.read(path, as_version=4).cells:
                    meta = cell.metadata.get("nbgrader", {})
                    if "grade_id" in meta:
                        cells[meta["grade_id"]] = cell
            comments = {c.name: c for c in nb.comments}
            items = []
            for g in sorted(nb.grades, key=lambda g: g.name):
                cell = cells.get(g.name)
                comment = comments.get(g.name)
                items.append({
                    "gradeId": g.id,
                    "cell": g.name,
                    "cellType": g.cell_type,
                    "source": cell.source if cell else "",
                    "outputs": _text_outputs(cell) if cell is not None else "",
                    "autoScore": g.auto_score,
                    "manualScore": g.manual_score,
                    "extraCredit": g.extra_credit,
                    "maxScore": g.max_score,
                    "needsManualGrade": bool(g.needs_manual_grade),
                    "commentId": comment.id if comment else None,
                    "comment": (comment.manual_comment if comment else None),
                })
            out.append({"notebook": nb.name, "score": nb.score, "maxScore": nb.max_score, "cells": items})
    return out


def _text_outputs(cell):
    if cell.cell_type != "code":
        return ""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
        elif "data" in o and "text/plain" in o["data"]:
            parts.append(o["data"]["text/plain"])
    return "\n".join(parts)[-4000:]


def op_set_grade(req):
    from nbgrader.api import Grade, Comment

    with gradebook(req) as gb:
        grade = gb.db.get(Grade, req["gradeId"])
        if grade is None or grade.notebook.assignment.assignment.name != req["assignment"] \
                or grade.notebook.assignment.student.id != req["student"]:
            raise Failure("grade_unknown", "There is no such grade in this submission.")
        if "manualScore" in req:
            score = req["manualScore"]
            if score is not None and (score < 0 or score > grade.max_score):
                raise Failure("score_out_of_range", f"manualScore must be between 0 and {grade.max_score}.")
            grade.manual_score = score
            # As nbgrader's formgrader does: a grade with a score no longer needs a person.
            grade.needs_manual_grade = score is None and grade.auto_score is None
        if "extraCredit" in req:
            grade.extra_credit = req["extraCredit"]
        if "comment" in req:
            comment = gb.db.query(Comment).filter(
                Comment.notebook_id == grade.notebook_id, Comment.name == grade.name).one_or_none()
            if comment is None:
                raise Failure("comment_unknown", "This cell takes no comment.")
            comment.manual_comment = req["comment"]
        gb.db.commit()
        return {"needsManualGrade": bool(grade.needs_manual_grade), "score": grade.score}


# ---- export and roster ------------------------------------------------------------------------

def op_export(req):
    import tempfile

    from nbgrader.plugins.export import CsvExportPlugin

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "grades.csv")
        with gradebook(req) as gb:
            CsvExportPlugin(to=path).export(gb)
        return {"csv": open(path).read()}


def op_students(req):
    with gradebook(req) as gb:
        return [{"id": s.id, "firstName": s.first_name, "lastName": s.last_name, "email": s.email}
                for s in gb.students]


def op_add_students(req):
    """All or nothing: one transaction for the whole list."""
    from nbgrader.api import Student

    with gradebook(req) as gb:
        for s in req["students"]:
            existing = gb.db.get(Student, s["id"])
            row = existing or Student(id=s["id"])
            row.first_name = s.get("firstName")
            row.last_name = s.get("lastName")
            row.email = s.get("email")
            gb.db.add(row)
        gb.db.commit()
    return {}


def op_remove_student(req):
    with gradebook(req) as gb:
        try:
            gb.remove_student(req["student"])
        except Exception as err:  # noqa: BLE001
            raise Failure("student_unknown", f"Cannot remove {req['student']}: {err}")
    return {}


# ---- the student's side -----------------------------------------------------------------------

# The student's home is the student's: anything in it may be a symbolic link, a hard link or a
# FIFO planted to make the companion (which can read the course directories and the gradebook)
# copy what the student must not see into where they can read it, or write where they must not.
# So nbgrader never touches a home: it works in a private staging folder, and files cross between
# the home and the staging folder only here, each path component opened relative to its parent
# with O_NOFOLLOW (no link is followed, no swap between a check and the use), only regular files
# with one link and folders. Anything else is refused with unsafe_path, naming the path in the
# home and never a file's content. With grader.homesOwner, what is created here is given to the
# student's uid (fchown on the descriptor just opened, so never through a link): the companion is
# root, and the student's server could not edit what it fetched.

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE = (".local", "share", "jupyter", "nbgrader_cache")


def _unsafe(rel, why):
    return Failure(
        "unsafe_path",
        f"~/{rel} {why}. The companion follows no links and copies only plain files and folders "
        "in your home: replace it with a plain file or folder (or remove it) and try again.")


def _kind(parent_fd, name):
    import stat

    try:
        mode = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _why(kind):
    return {"link": "is a symbolic link", "file": "is a file, not a folder"}.get(
        kind, "is not a plain file or folder")


def _open_dir(parent_fd, name, rel, create=False, owner=None):
    """A folder in the home, by name in its parent, never through a link; None when missing."""
    import errno

    made = False
    for _ in range(2):
        try:
            fd = os.open(name, _DIR, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(name, 0o755, dir_fd=parent_fd)
                made = True
            except FileExistsError:
                pass
            continue
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _unsafe(rel, _why(_kind(parent_fd, name)))
            raise
        if made and owner:
            os.fchown(fd, *owner)
        return fd
    raise _unsafe(rel, "changed while the companion opened it")


def _open_path(home_fd, parts, create=False, owner=None):
    """The folder home/parts[0]/parts[1]/..., each component checked; None when one is missing."""
    fd = os.dup(home_fd)
    for i, name in enumerate(parts):
        try:
            nxt = _open_dir(fd, name, "/".join(parts[:i + 1]), create, owner)
        finally:
            os.close(fd)
        if nxt is None:
            return None
        fd = nxt
    return fd


def _hidden(name):
    """Lab's and the desktop's own files in a student's folder (.ipynb_checkpoints, .DS_Store,
    .~lock files, ~$ office locks): not the student's work, so never part of a submission."""
    return name.startswith((".", "~$"))


def _copy_in(src_fd, rel, dest, only=None, skip_hidden=False):
    """The tree under src_fd (in the home) into the staging folder dest: plain files and folders
    only, without hidden ones when skip_hidden."""
    import stat

    os.makedirs(dest, exist_ok=True)
    for name in sorted(os.listdir(src_fd)):
        if only is not None and not only(name):
            continue
        if skip_hidden and _hidden(name):
            continue
        path = f"{rel}/{name}"
        kind = _kind(src_fd, name)
        if kind == "dir":
            fd = _open_dir(src_fd, name, path)
            try:
                _copy_in(fd, path, os.path.join(dest, name), skip_hidden=skip_hidden)
            finally:
                os.close(fd)
        elif kind == "file":
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                             dir_fd=src_fd)
            except OSError:
                raise _unsafe(path, "cannot be opened as a plain file")
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise _unsafe(path, "is not a plain file")
                if st.st_nlink != 1:
                    raise _unsafe(path, "is a hard link (it has other names)")
                with os.fdopen(os.dup(fd), "rb") as src, open(os.path.join(dest, name), "xb") as out:
                    shutil_copyfileobj(src, out)
            finally:
                os.close(fd)
        elif kind is not None:
            raise _unsafe(path, _why(kind))


def _open_file(dest_fd, name, rel):
    """(fd, made): name in the home folder dest_fd opened to write, never through a link."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(2):
        # Created, or there already (O_EXCL: a link there is EEXIST, then ELOOP below).
        for extra, made in ((os.O_CREAT | os.O_EXCL, True), (0, False)):
            try:
                return os.open(name, flags | extra, 0o644, dir_fd=dest_fd), made
            except (FileExistsError, FileNotFoundError):
                continue
            except OSError:
                raise _unsafe(rel, _why(_kind(dest_fd, name)))
    raise _unsafe(rel, "changed while the companion opened it")


def _copy_out(src, dest_fd, rel, owner=None):
    """The staging tree src into the home folder dest_fd: no link followed, no hard link written."""
    import stat

    for name in sorted(os.listdir(src)):
        path = f"{rel}/{name}"
        here = os.path.join(src, name)
        if os.path.isdir(here):
            fd = _open_dir(dest_fd, name, path, create=True, owner=owner)
            try:
                _copy_out(here, fd, path, owner)
            finally:
                os.close(fd)
            continue
        fd, made = _open_file(dest_fd, name, path)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _unsafe(path, "is not a plain file")
            if st.st_nlink != 1:
                raise _unsafe(path, "is a hard link (it has other names)")
            if made and owner:
                os.fchown(fd, *owner)
            os.set_blocking(fd, True)
            os.ftruncate(fd, 0)
            with open(here, "rb") as data, os.fdopen(os.dup(fd), "wb") as out:
                shutil_copyfileobj(data, out)
        finally:
            os.close(fd)


def shutil_copyfileobj(src, out):
    import shutil

    shutil.copyfileobj(src, out, 1024 * 1024)


@contextlib.contextmanager
def student_side(req):
    """(home_fd, staging, owner): the student's home opened once, a private folder nbgrader works
    in, and (uid, gid) to give what is created in the home, or None."""
    import shutil
    import tempfile

    owner = req.get("homesOwner")
    owner = (owner["uid"], owner["gid"]) if owner else None
    if owner is None:
        os.makedirs(req["home"], exist_ok=True)
    try:
        home_fd = os.open(os.path.realpath(req["home"]), _DIR)
    except FileNotFoundError:
        # A home volume is made when the user's server first starts; root must not make it first.
        again = "fetch" if req.get("op") == "fetch" else "try"
        raise Failure("home_not_ready", "Your home is created when your server first starts: "
                      f"start your server, then {again} again.")
    staging = tempfile.mkdtemp(prefix="hotstepper-grader-")
    req["_staging"] = staging
    try:
        yield home_fd, staging, owner
    finally:
        os.close(home_fd)
        shutil.rmtree(staging, ignore_errors=True)


def student_api(req, staging):
    """The exchange operations as the student: identity from the hub (the request), not the OS.

    nbgrader sees the staging folder as the student's home: the assignment folder, and the
    submission cache (which decides whose feedback fetch_feedback finds: the student's own, as
    their own nbgrader keeps it in their home) at the same place under it.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(req)
    config.Exchange.assignment_dir = staging
    config.Exchange.cache = os.path.join(staging, *_CACHE)
    config.CourseDirectory.root = staging
    config.CourseDirectory.student_id = req["student"]
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    return api, coursedir, dict(config=config, authenticator=api.authenticator)


def op_fetch(req):
    from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
    from nbgrader.utils import capture_log

    course, assignment = req["course"], req["assignment"]
    with student_side(req) as (home_fd, staging, owner):
        existing = _open_path(home_fd, [course, assignment])
        if existing is not None:
            # nbgrader then says the student already has a copy, as it would in their home.
            os.close(existing)
            os.makedirs(os.path.join(staging, course, assignment))
        _, coursedir, kw = student_api(req, staging)
        coursedir.assignment_id = assignment
        result = checked(capture_log(ExchangeFetchAssignment(coursedir=coursedir, **kw)))
        dest = _open_path(home_fd, [course, assignment], create=True, owner=owner)
        try:
            _copy_out(os.path.join(staging, course, assignment), dest, f"{course}/{assignment}", owner)
        finally:
            os.close(dest)
        return result


def op_submit(req):
    import glob

    import nbformat
    from nbgrader.exchange.default.submit import ExchangeSubmit
    from nbgrader.utils import capture_log

    course, assignment = req["course"], req["assignment"]
    with student_side(req) as (home_fd, staging, owner):
        src = _open_path(home_fd, [course, assignment])
        if src is None:
            raise Failure("not_fetched",
                          f"Fetch {assignment} first: ~/{course}/{assignment} does not exist.")
        try:
            # Checkpoints and other hidden files stay home (nbgrader would list them as EXTRA).
            _copy_in(src, f"{course}/{assignment}", os.path.join(staging, course, assignment),
                     skip_hidden=True)
        finally:
            os.close(src)
        folder = os.path.join(staging, course, assignment)
        for path in sorted(glob.glob(os.path.join(folder, "*.ipynb"))):
            try:
                nbformat.validate(nbformat.read(path, as_version=4))
            except Exception:  # noqa: BLE001 - its content stays out of the answer
                raise Failure("not_a_notebook",
                              f"{course}/{assignment}/{os.path.basename(path)} is not a Jupyter "
                              "notebook (it does not read as one); fix it and submit again.")
        # The student's own cache in their home, opened before anything is submitted.
        cache = _open_path(home_fd, [*_CACHE, course], create=True, owner=owner)
        try:
            _, coursedir, kw = student_api(req, staging)
            coursedir.assignment_id = assignment
            result = checked(capture_log(ExchangeSubmit(coursedir=coursedir, **kw)))
            # The cache entry nbgrader made goes there.
            made = os.path.join(staging, *_CACHE, course)
            if os.path.isdir(made):
                _copy_out(made, cache, "/".join([*_CACHE, course]), owner)
        finally:
            os.close(cache)
        return result


def op_fetch_feedback(req):
    from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback
    from nbgrader.utils import capture_log

    course, assignment = req["course"], req["assignment"]
    with student_side(req) as (home_fd, staging, owner):
        # The student's own submissions of this assignment, from the cache in their home.
        cache = _open_path(home_fd, [*_CACHE, course])
        if cache is not None:
            try:
                _copy_in(cache, "/".join([*_CACHE, course]), os.path.join(staging, *_CACHE, course),
                         only=lambda name: f"+{assignment}+" in name)
            finally:
                os.close(cache)
        _, coursedir, kw = student_api(req, staging)
        coursedir.assignment_id = assignment
        result = checked(capture_log(ExchangeFetchFeedback(coursedir=coursedir, **kw)))
        fetched = os.path.join(staging, course, assignment, "feedback")
        files = []
        if os.path.isdir(fetched):
            dest = _open_path(home_fd, [course, assignment, "feedback"], create=True, owner=owner)
            try:
                _copy_out(fetched, dest, f"{course}/{assignment}/feedback", owner)
            finally:
                os.close(dest)
            for dirpath, _, names in os.walk(fetched):
                files += [os.path.relpath(os.path.join(dirpath, n), staging)
                          for n in names if n.endswith(".html")]
        result["files"] = sorted(files)
        return result


def scrub(text, req):
    """nbgrader's words without the server's paths: the staging folder and the home read as ~."""
    if not isinstance(text, str):
        return text
    for key, label in (("_staging", "~"), ("home", "~"), ("courseDir", "<course directory>"),
                       ("exchange", "<exchange>")):
        root = req.get(key)
        if isinstance(root, str) and root:
            text = text.replace(os.path.realpath(root), label).replace(root, label)
    return text


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def answer(req):
    try:
        fn = OPS.get(req.get("op"))
        if fn is None:
            raise Failure("unknown_op", f"unknown operation {req.get('op')!r}")
        value = fn(req)
        if isinstance(value, dict) and isinstance(value.get("log"), str):
            value["log"] = scrub(value["log"], req)
        return {"ok": True, "value": value}
    except Failure as f:
        return {"ok": False, "code": f.code, "message": scrub(f.message, req)}
    except Exception as err:  # noqa: BLE001 - reported to the companion, which logs it
        text = "".join(traceback.format_exception(err))
        if "database is locked" in text:
            return {"ok": False, "code": "gradebook_locked",
                    "message": "The gradebook is busy with another grader operation; try again in a moment."}
        # The traceback is for the operators' log (driver.ts): never a problem's detail.
        return {"ok": False, "code": "driver_error", "message": text[-4000:]}


def main():
    wait_for_writers()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything nbgrader prints belongs to the log, not the answer
    if sys.argv[1:] == ["serve"]:
        # The companion's long-lived worker: one JSON request per line in, one answer per line out,
        # so reads do not pay nbgrader's import time (seconds) each.
        import nbgrader.apps  # noqa: F401 - imported once, up front

        real_stdout.write(json.dumps({"ready": True}) + "\n")
        real_stdout.flush()
        for line in sys.stdin:
            if line.strip():
                real_stdout.write(json.dumps(answer(json.loads(line)), default=str) + "\n")
                real_stdout.flush()
        return
    if sys.argv[1:] == ["pool"]:
        pool(real_stdout)
        return
    if sys.argv[1:] == ["unit"]:
        sys.exit(unit())
    real_stdout.write(json.dumps(answer(json.load(sys.stdin)), default=str))
    real_stdout.flush()


def unit():
    """One autograde unit as a Kubernetes Job's container (grader/units-kubernetes.ts).

    A Job has no stdin: the request comes in HOTSTEPPER_GRADER_REQUEST. nbgrader's log is the
    pod's log; the answer goes to the termination message (HOTSTEPPER_GRADER_ANSWER, default
    /dev/termination-log, at most 4 kB), and the exit code makes the Job Complete or Failed.
    """
    result = answer(json.loads(os.environ["HOTSTEPPER_GRADER_REQUEST"]))
    if result["ok"]:
        # nbgrader's captured log belongs in the pod's log; the answer is ok, and what an op
        # returns as its answer (small: a termination message holds 4 kB).
        value = result.get("value") or {}
        print(value.get("log", ""), file=sys.stderr)
        result = {"ok": True, "answer": value["answer"]} if "answer" in value else {"ok": True}
    else:
        print(f"{result['code']}: {result['message']}", file=sys.stderr)
        # The kubelet keeps 4096 bytes of a termination message: the end of the message fits.
        while len(json.dumps(result, default=str).encode()) > 4000:
            result["message"] = result["message"][len(result["message"]) // 4 + 1:]
    try:
        with open(os.environ.get("HOTSTEPPER_GRADER_ANSWER", "/dev/termination-log"), "w") as fh:
            json.dump(result, fh, default=str)
    except OSError as err:
        print(f"could not write the answer: {err}", file=sys.stderr)
    sys.stderr.flush()
    return 0 if result["ok"] else 1


def pool(out):
    """Autograde units as forks of one process that has imported nbgrader already (a zygote).

    A unit in a fresh interpreter pays seconds of imports before its kernel even starts; a fork
    starts at once. Each request {id, log, result, ...} forks a child in its own session (so the
    companion can kill it with its kernel as one process group), which writes nbgrader's log to
    `log` and its answer to `result`; with `sandbox` (the local executor's, units.ts), as another
    account in namespaces of its own (sandbox), so the pool runs as root then. Lines out:
    {"ready"}, {"id", "pid"}, {"id", "exit"}.
    """
    import select
    import signal

    import nbgrader.apps  # noqa: F401 - imported once, inherited by every fork
    import nbgrader.converters  # noqa: F401

    running = {}

    def write(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    def reap():
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            write({"id": running.pop(pid, None), "exit": os.waitstatus_to_exitcode(status)})

    # SIGCHLD only wakes the loop up (through a pipe); all writing happens in the loop itself.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    write({"ready": True})
    pending = b""
    while True:
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap()
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                start_unit(json.loads(line), running, write)
        reap()


def start_unit(req, running, write):
    import signal

    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            # Both files are opened now, while this process is still the companion's user: the
            # unit writes them through these descriptors after it dropped to its own account.
            fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            # The pool's stdin (the companion's pipe) is not the unit's: /dev/null instead, which
            # keeps descriptors 0-2 taken, so the result's descriptor is above them.
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            result_fd = os.open(req["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            if req.get("sandbox"):
                try:
                    # Nothing of the pool (its pipes) stays open in the unit.
                    os.closerange(3, result_fd)
                    os.closerange(result_fd + 1, 1 << 20)
                    sandbox(req["sandbox"])
                except BaseException as err:  # noqa: BLE001 - never grade outside the sandbox
                    print(f"sandbox_failed: {err}", file=sys.stderr)
                    with os.fdopen(result_fd, "w") as fh:
                        json.dump({"ok": False, "code": "sandbox_failed",
                                   "message": f"the unit's sandbox could not be set up: {err}"}, fh)
                    raise
            result = answer(req)
            # The unit's log says how it ended, as a Job's does (unit): nbgrader's log, or why not.
            if result["ok"]:
                print((result.get("value") or {}).get("log", ""), file=sys.stderr)
            else:
                print(f"{result['code']}: {result['message']}", file=sys.stderr)
            with os.fdopen(result_fd, "w") as fh:
                json.dump(result, fh, default=str)
        except BaseException:  # noqa: BLE001 - a fork must never return into the loop
            code = 1
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    running[pid] = req["id"]
    write({"id": req["id"], "pid": pid})


# ---- the local executor's sandbox (grader/units.ts) -------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
# Shared scratch folders every account may write: fresh and empty in each unit.
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_char_p]
    libc.unshare.argtypes = [ctypes.c_int]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]

    def check(ret, what):
        if ret != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def mount(source, target, fstype, flags, data=None):
        enc = lambda v: v.encode() if isinstance(v, str) else v  # noqa: E731
        check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
              f"mount {target}")

    return libc, check, mount


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _closed_ancestor(path, uid, gid):
    """The top-most folder above `path` that uid:gid (no other groups) may not pass through."""
    current = ""
    for part in path.strip("/").split("/")[:-1]:
        current += "/" + part
        st = os.stat(current)
        bit = 0o100 if st.st_uid == uid else 0o010 if st.st_gid == gid else 0o001
        if not st.st_mode & bit:
            return current
    return None


def sandbox(box):
    """Turn this forked unit into a sandboxed process of the account box["uid"]/box["gid"].

    It gets a mount namespace of its own where the courses root, the exchange root and the
    companion's state folder (box["hide"]) are empty tmpfs, but for the unit's own course folders
    (box["mounts"], units-objects.ts unitMounts: its submission and the assignment's source
    read-only, the gradebook's folder and its autograded folder writable), bound back at their own
    paths; /tmp, /var/tmp and /dev/shm are fresh. A tmpfs is laid over a folder two ways: over a
    hidden root, and over the top-most folder on the way to a bound path (the course environment's
    too, e.g. a venv under /root) that the account could not pass through anyway (a 0700 scratch
    folder). Hiding such a folder hides nothing the account could see, and inside the tmpfs
    (mode 0755) the way down to the bound paths is made of root's folders it may pass, with nothing
    else in them. Bind sources are opened (O_PATH) before the tmpfs covers them and bound from
    /proc/self/fd. It then gets a PID namespace (it sees no other process, its kernel dies with it)
    and drops to the account, with no_new_privs. Returns in the unit; the process that set the
    namespaces up only waits for it, and exits with its code.
    """
    libc, check, mount = _libc()
    uid, gid = int(box["uid"]), int(box["gid"])
    if uid == 0:
        raise RuntimeError("a unit never runs as root")
    os.umask(0o022)
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
    # Nothing mounted here reaches the machine's namespace.
    mount(None, "/", None, MS_REC | MS_PRIVATE)

    env = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                         sys.base_exec_prefix)}
    binds = [(os.path.realpath(m["path"]), bool(m["writable"])) for m in box["mounts"]]
    binds += [(p, False) for p in sorted(env)]
    hidden = [os.path.realpath(p) for p in box["hide"]] + list(SCRATCH)
    hidden += [a for a in (_closed_ancestor(p, uid, gid) for p, _ in binds) if a]
    hidden = [h for h in set(hidden) if os.path.isdir(h) and h != "/"]
    tops = sorted(h for h in hidden if not any(o != h and _under(h, o) for o in hidden))
    # Only what a tmpfs covers is bound back (a course environment in /usr needs nothing), each
    # once (a venv inside its base python's prefix comes with it).
    todo = []
    for path, writable in sorted(set(binds)):
        if not any(_under(path, t) for t in tops) or not os.path.isdir(path):
            continue
        if any(_under(path, done) and w == writable for done, w, _ in todo):
            continue
        todo.append((path, writable, os.open(path, os.O_PATH | os.O_DIRECTORY)))

    for top in tops:
        mode = "1777" if top in SCRATCH else "0755"
        mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode}")
    for path, writable, fd in todo:
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
        flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
        mount(None, path, None, flags)
        os.close(fd)

    sys.stderr.flush()
    child = os.fork()
    if child:
        # The namespaces' parent: the unit is its child, pid 1 of the new PID namespace.
        status = os.waitpid(child, 0)[1]
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    # pid 1 here: a /proc of this namespace shows its own processes only.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # The environment is already the companion's minimal one (driver.ts); home is the fresh /tmp.
    os.environ["HOME"] = "/tmp"
    os.chdir("/tmp")


if __name__ == "__main__":
    main()
