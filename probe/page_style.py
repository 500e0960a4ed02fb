"""The look the probe's HTML pages share (the report, a unit's dissection): one stylesheet base, so the
pages read as one tool; each adds the rules of its own parts."""

BASE_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#212529;padding:0 16px}
h1{font-size:24px;margin:0 0 4px} h2{margin:36px 0 8px;border-bottom:2px solid #dee2e6;padding-bottom:4px}
.meta{color:#495057} table{border-collapse:collapse;margin:8px 0}
td,th{padding:4px 10px;border-bottom:1px solid #e9ecef;text-align:right} th{background:#f1f3f5}
td:first-child,th:first-child{text-align:left}
.yes{background:#2b8a3e;color:#fff;border-radius:4px;padding:1px 6px} .no{color:#868e96}
"""
