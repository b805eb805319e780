"""The verification report as a human-readable HTML page (no scripts, no
external resources; every value escaped)."""

from __future__ import annotations

from html import escape


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in pairs)


def _table(headers: list[str], rows: list[list]) -> str:
    if not rows:
        return "<p class='none'>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict) -> str:
    profile = report.get("profile", {})
    counts = report.get("counts", {})
    actions = report.get("actions", {})
    scan = report.get("residual_scan", {})
    burned = report.get("burned_in_risk", {})
    passed = scan.get("passed", False)
    verdict = ("PASSED: no identifying value of the inputs was found in the outputs."
               if passed else "FAILED: identifying values were found (see below).")
    if not passed and scan.get("override_reason"):
        verdict += f" Exported anyway; reason given: {scan['override_reason']}"
    options = [[o.get("name", ""), o.get("code", ""), o.get("meaning", "")]
               for o in profile.get("options", [])]
    hits = [[h.get("file", ""), h.get("attribute", ""), h.get("kind", ""), h.get("where", "")]
            for h in scan.get("hits", [])]
    risks = [[r.get("file", ""), r.get("reason", "")] for r in burned.get("files", [])]
    by_code = sorted((actions.get("by_code") or {}).items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>De-identification report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }}
.verdict {{ font-weight: bold; padding: 0.6em; border: 2px solid {'#2a2' if passed else '#c22'}; }}
.none {{ color: #666; }}
</style></head><body>
<h1>De-identification report</h1>
<p class="verdict">{escape(verdict)}</p>
<h2>Profile</h2>
<table>{_rows([("Profile", profile.get("name", "")), ("Standard", profile.get("standard", "")),
               ("Dates", profile.get("dates", ""))])}</table>
<h3>Options</h3>
{_table(["Option", "Code (DCM)", "Meaning"], options)}
<h2>Counts</h2>
<table>{_rows([("Instances in", counts.get("instances_in", "")),
               ("Instances out", counts.get("instances_out", "")),
               ("Studies", counts.get("studies", "")), ("Patients", counts.get("patients", ""))])}</table>
<h2>What was done</h2>
<table>{_rows([(f"Action {code}", n) for code, n in by_code] + [
    ("UIDs replaced", actions.get("uids_replaced", 0)),
    ("Private attributes removed", actions.get("private_removed", 0)),
    ("Private attributes kept (safe list)", actions.get("private_kept", 0)),
    ("Dates shifted", actions.get("dates_shifted", 0)),
    ("Text values cleaned", actions.get("text_values_cleaned", 0))])}</table>
<h2>Residual-identifier scan</h2>
<table>{_rows([("Files scanned", scan.get("files_scanned", 0)),
               ("Identifying values searched", scan.get("values_searched", 0)),
               ("Hits", len(hits))])}</table>
{_table(["File", "Value from attribute", "Kind", "Where"], hits)}
<h2>Burned-in text risk</h2>
<p>{escape(burned.get("note", ""))}</p>
{_table(["File", "Why"], risks)}
</body></html>
"""
