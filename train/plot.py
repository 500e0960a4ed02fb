"""The loss-curve PNG written at the end of a run (matplotlib, Agg backend)."""

from __future__ import annotations

import io

from unitscope.core import storage

FILE = "loss.png"


def loss_curve(rows: list[dict], run_url: str, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["loss"] for r in rows], lw=0.8, alpha=0.5, label="loss")
    k = max(1, len(rows) // 25)
    smooth = [
        sum(r["loss"] for r in rows[max(0, i - k) : i + 1]) / len(rows[max(0, i - k) : i + 1])
        for i in range(len(rows))
    ]
    ax.plot(steps, smooth, lw=1.6, label=f"mean of {k + 1}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    url = storage.join(run_url, FILE)
    storage.write_bytes(url, buf.getvalue())
    return url
