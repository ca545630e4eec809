"""The ranking debugger: scores vs measured latency for one subgraph, world model beside MetaSchedule's XGBModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.views.tuning import LOG_TICKS


@dataclass
class RankingInfo:
    """``table``: one row per measured record (row, latency_ms, <model>_score, <model>_rank, true_rank,
    disagreement = |world rank - true rank|); ``metrics``: per model pairwise, kendall, top1, top5;
    ``worst``: the records the world model ranks farthest from their true place."""

    subgraph: str
    table: Any
    metrics: Any
    worst: Any


def ranking_info(evaluator: Any, records: Any, *, baseline: Any = None, worst: int = 10) -> RankingInfo:
    """Score one subgraph's successful records with the world model (and ``baseline``, a fitted
    ``MetaScheduleXGB``) and compare with the measured latencies."""
    import pandas as pd

    from workbench.worldmodel.metrics import kendall_tau, pairwise_accuracy, top_k_score

    ok = records[records["status"] == "ok"]
    if ok["subgraph"].nunique() > 1:
        raise ValueError(f"rank one subgraph at a time (got {ok['subgraph'].nunique()})")
    name = str(ok["subgraph"].iloc[0]) if len(ok) else ""
    table = pd.DataFrame({"row": ok.index.to_numpy(), "latency_ms": ok["latency"].to_numpy() * 1e3})
    scores = {"world": evaluator.score(ok) if len(ok) else np.zeros(0)}
    if baseline is not None and len(ok):
        scores["xgb"] = baseline.predict(ok.reset_index(drop=True))
    table["true_rank"] = table["latency_ms"].rank(method="first").astype(int)
    metrics = []
    for model, s in scores.items():
        table[f"{model}_score"] = s
        table[f"{model}_rank"] = (-table[f"{model}_score"]).rank(method="first").astype(int)
        lat = table["latency_ms"].to_numpy()
        metrics.append({"model": model, "pairwise": pairwise_accuracy(s, lat), "kendall": kendall_tau(s, lat),
                        "top1": top_k_score(s, lat, 1), "top5": top_k_score(s, lat, 5)})
    table["disagreement"] = (table["world_rank"] - table["true_rank"]).abs()
    worst_rows = table.sort_values("disagreement", ascending=False).head(worst)
    return RankingInfo(subgraph=name, table=table, metrics=pd.DataFrame(metrics).set_index("model"),
                       worst=worst_rows.reset_index(drop=True))


def baseline_training_records(evaluator: Any, logs: Any, *, per_subgraph: int = 40) -> Any:
    """What MetaSchedule's XGBModel trains on beside the world model: the successful records of the world
    model's training subgraphs, the first ``per_subgraph`` of each (a few per op family keep it to seconds)."""
    trained = set(evaluator.config.info.get("subgraphs", []))
    ok = logs[logs["subgraph"].isin(trained) & (logs["status"] == "ok")]
    return ok.groupby("subgraph").head(per_subgraph)


def ranking_figure(info: RankingInfo, *, selected: int | None = None) -> Any:
    """One panel per model: score against measured latency (log scale); the worst disagreements ringed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    models = list(info.metrics.index)
    titles = [f"{m}: pairwise {info.metrics.loc[m, 'pairwise']:.2f}, tau {info.metrics.loc[m, 'kendall']:.2f}, "
              f"top-1 {info.metrics.loc[m, 'top1']:.2f}" for m in models] or ["no records"]
    fig = make_subplots(rows=1, cols=max(1, len(models)), subplot_titles=titles, shared_yaxes=True)
    t = info.table
    worst = set(info.worst["row"])
    for j, m in enumerate(models, start=1):
        fig.add_trace(go.Scatter(
            x=t[f"{m}_score"], y=t["latency_ms"], mode="markers", name=m,
            customdata=np.stack([t["row"], t["true_rank"], t[f"{m}_rank"]], axis=1),
            marker={"size": 7, "color": ["#d62728" if r in worst else "#1f77b4" for r in t["row"]], "opacity": 0.8},
            hovertemplate="row %{customdata[0]}: %{y:.4f} ms<br>true rank %{customdata[1]}, "
                          f"{m} rank " + "%{customdata[2]}<extra></extra>"), row=1, col=j)
        fig.update_xaxes(title_text=f"{m} score (higher = predicted faster)", row=1, col=j)
        if selected is not None:
            s = t[t["row"] == selected]
            fig.add_trace(go.Scatter(x=s[f"{m}_score"], y=s["latency_ms"], mode="markers", showlegend=False,
                                     hoverinfo="skip", marker={"size": 16, "color": "rgba(0,0,0,0)",
                                                               "line": {"width": 3, "color": "black"}}),
                          row=1, col=j)
    fig.update_yaxes(type="log", tickformat=LOG_TICKS, title_text="measured latency (ms)", row=1, col=1)
    fig.update_layout(height=420, showlegend=False, margin={"t": 50, "l": 60, "r": 10, "b": 50},
                      title=f"{info.subgraph}: scores vs measurements (red: the world model's worst disagreements)")
    return fig


def contributions_info(evaluator: Any, record: Any, *, top: int = 12) -> Any:
    """The features that drove one record's world-model score (SHAP contributions), largest first."""
    import pandas as pd

    item = evaluator.items_from_logs(record.to_frame().T if hasattr(record, "to_frame") else record)[0]
    info = evaluator.explain(item)
    rows = [{"feature": k, "value": info["features"][k], "contribution": v} for k, v in info["contributions"].items()]
    df = pd.DataFrame(rows)
    df = df.reindex(df["contribution"].abs().sort_values(ascending=False).index).head(top).reset_index(drop=True)
    df.attrs.update(score=info["score"], bias=info["bias"], by_group=info["contribution_by_group"])
    return df


def contributions_figure(df: Any) -> Any:
    import plotly.graph_objects as go

    d = df.iloc[::-1]
    fig = go.Figure(go.Bar(x=d["contribution"], y=d["feature"], orientation="h",
                           marker={"color": ["#2ca02c" if c > 0 else "#d62728" for c in d["contribution"]]},
                           customdata=d["value"], hovertemplate="%{y} = %{customdata:.3f}: %{x:+.4f}<extra></extra>"))
    groups = df.attrs.get("by_group", {})
    fig.update_layout(height=360, margin={"t": 50, "l": 160, "r": 10, "b": 40},
                      title="what drove this score: " + ", ".join(f"{k} {v:+.3f}" for k, v in groups.items()),
                      xaxis_title="contribution to the score (SHAP)")
    return fig
