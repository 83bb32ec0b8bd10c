"""The bench's printed tables."""

from __future__ import annotations

import os


def machine() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}:{d.device_kind}, {os.cpu_count()} CPU cores"


def print_tables(r: dict, rc) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    fmt = lambda v, d=1: "n/a" if v is None else (f"{v:,.{d}f}" if isinstance(v, float) else str(v))  # noqa: E731

    def show(title: str, rows: list[tuple[str, str]]) -> None:
        table = Table(title=title, title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in rows:
            table.add_row(escape(name), escape(value))
        console.print(table)

    if "loop" in r:
        lp = r["loop"]
        show(f"loop: {rc.algo} ({rc.preset}) on {rc.loop.env}, {rc.loop.seeds} seeds", [
            ("fused loop env steps/s (all seeds)", fmt(lp["env_steps_per_s"])),
            ("bare update steps/s (all seeds)", fmt(lp["updates_per_s_bare"])),
            ("update steps/s inside the loop", fmt(lp["updates_per_s_in_loop"])),
            ("loop cost over its updates", f"{100 * lp['loop_overhead']:+.1f}% (target <= +15%)"),
            ("compile time of one chunk [s]", fmt(lp["compile_s"])),
            ("replay per seed [MiB]", fmt(lp["replay_mib_per_seed"])),
            ("compiled chunk: arguments / temporaries [MiB]",
             f"{fmt(lp['program_args_mib'])} / {fmt(lp['program_temp_mib'])}"),
            ("device peak [MiB]", fmt(lp["device_peak_mib"])),
            ("host peak RSS [MiB]", fmt(r["host_peak_rss_mib"]))])
    if "roofline" in r:
        rf = r["roofline"]
        rows = [("dense matmul (1024^2, float32) GFLOP/s", fmt(rf["matmul_flops_per_s"] / 1e9))]
        if "loop_flops_per_s" in rf:
            rows += [("loop: GFLOP per update (XLA cost analysis)", fmt(rf["loop_flops_per_update"] / 1e9, 3)),
                     ("loop: achieved GFLOP/s", fmt(rf["loop_flops_per_s"] / 1e9)),
                     ("loop: roofline efficiency", f"{100 * rf['loop_efficiency']:.0f}%")]
        for u in rf["updates"]:
            rows.append((f"update {u['update']} x{u['seeds']}: GFLOP / updates/s / efficiency",
                         f"{u['flops_per_update'] / 1e9:.3f} / {u['updates_per_s']:,.0f} / {100 * u['efficiency']:.0f}%"))
        show("roofline: achieved FLOP/s against the machine's dense matmul", rows)
    if "replay" in r:
        rp = r["replay"]
        show("replay: bytes per stored transition", [
            ("humanoid-sized (obs 244, action 17): this buffer", fmt(rp["replay_bytes_per_transition"])),
            ("  with --replay_obs_dtype=bfloat16", fmt(rp["replay_bytes_per_transition_bf16"])),
            ("  whole (obs, action, reward, terminated, next_obs)", fmt(rp["transition_buffer_bytes_per_transition"])),
            ("  ratio (target <= 0.55)", f"{rp['replay_ratio']:.3f}"),
            (f"{rp['run_env']}: this buffer / whole transitions",
             f"{rp['run_bytes_per_transition']} / {rp['run_transition_buffer_bytes']}")])
    show_startup_tables(r, rc, show, fmt)


def show_startup_tables(r: dict, rc, show, fmt) -> None:
    """The compile, autoreset and checkpoint sections' tables (`show(title, rows)`)."""
    if "compile" in r:
        cp = r["compile"]
        show("compile: make demo's program (DSPG quick, 4 seeds), fresh processes", [
            ("cold compile [s] (empty cache)", fmt(cp["cold_compile_s"])),
            ("warm compile [s] (persistent cache)", fmt(cp["warm_compile_s"])),
            ("cold start: launch to first chunk [s]", fmt(cp["cold_start_s"])),
            ("warm start: launch to first chunk [s] (target <= 5)", fmt(cp["warm_start_s"]))])
    if "autoreset" in r:
        show("autoreset: env steps/s, 64 MJX environments, random actions",
             [(f"{a['env']} {a['autoreset']}", f"{a['env_steps_per_s']:,.0f}") for a in r["autoreset"]["autoreset"]])
    if "checkpoint" in r:
        show(f"checkpoint: the whole carry of {rc.algo} ({rc.preset}) on {rc.loop.env} (orbax, async)",
             [(f"{c['seeds']} seeds x {c['buffer_size']:,} transitions: carry / on disk [MiB]; device waits / "
               "complete / restore [s]",
               f"{c['carry_mib']:.1f} / {c['disk_mib']:.1f}; {c['save_blocking_s']:.2f} / {c['save_total_s']:.2f} / "
               f"{c['restore_s']:.2f}") for c in r["checkpoint"]["checkpoint"]])
