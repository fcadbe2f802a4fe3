"""Runs ChannelAttribution (PyPI) on a path CSV and prints JSON, for attrsync's cross-checks.

usage: channelattribution_peer.py markov PATHS ORDER NSIM MAX_STEP|none
       channelattribution_peer.py heuristic PATHS
"""
import contextlib
import json
import sys

import pandas as pd

# ChannelAttribution prints banners on import and on every call; keep stdout for the result.
with contextlib.redirect_stdout(sys.stderr):
    import ChannelAttribution as ca


def main():
    with contextlib.redirect_stdout(sys.stderr):
        out = compute()
    print("RESULT " + json.dumps(out), flush=True)


def compute():
    kind, paths = sys.argv[1], sys.argv[2]
    df = pd.read_csv(paths)
    out = {}
    if kind == "markov":
        order, nsim = int(sys.argv[3]), float(sys.argv[4])
        max_step = None if sys.argv[5] == "none" else int(sys.argv[5])
        r = ca.markov_model(df, "path", "total_conversions", var_value="total_conversion_value",
                            var_null="total_null", order=order, nsim_start=nsim, max_step=max_step,
                            out_more=True, verbose=False, flg_pro=False)
        res, re = r["result"], r["removal_effects"]
        for _, row in res.iterrows():
            out[row["channel_name"]] = {"conversions": row["total_conversions"],
                                        "value": row["total_conversion_value"]}
        for _, row in re.iterrows():
            out[row["channel_name"]]["re"] = row["removal_effects_conversion"]
            out[row["channel_name"]]["re_value"] = row["removal_effects_conversion_value"]
    else:
        r = ca.heuristic_models(df, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False)
        for _, row in r.iterrows():
            out[row["channel_name"]] = {k: float(row[k]) for k in r.columns if k != "channel_name"}
    return out


if __name__ == "__main__":
    main()
