"""Usage & spend: what Claude cost and why, cache and rate-limit health, budgets, what-if, export, reconciliation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import streamlit as st

from app_pages._shared import charts, resources, ui
from lib.auth import Forbidden, Permission, can
from lib.core.errors import ScribeError
from lib.core.settings import FEATURES
from lib.usage import budgets, reconcile
from lib.usage.queries import SCENARIOS, Options, UsageFilter, UsageQueries, UsageReport, what_if
from lib.usage.queries import format_usd as money

BACKEND_LABELS = {"anthropic": "Claude API (real spend)", "sandbox": "Sandbox (simulated)"}
POLICY_LABELS = {"default": "the default (SCRIBE_BUDGET_POLICY)", "block": "block", "step_down": "step down the model",
                 "batch": "send bulk work to the Batch API"}


@st.cache_data(ttl=600, max_entries=32, show_spinner="Adding up the usage log…")
def load_report(db_path: str, filter_key: tuple, version: str, today: str) -> UsageReport:
    """The page's numbers, cached per database, filter, log version (new rows show) and UTC day."""
    return resources.services().usage.report(UsageFilter.from_key(filter_key))


def pick_filter(queries: UsageQueries) -> UsageFilter:
    """The filter widgets: backend, UTC dates, models, features, users."""
    backends = queries.backends()
    top = st.columns([2, 2, 3])
    backend = top[0].segmented_control("Backend", backends, default=queries.default_backend(), key="usage_backend",
                                       format_func=lambda b: BACKEND_LABELS.get(b, b),
                                       help="Real spend by default; sandbox rows are simulated and kept apart.")
    backend = backend or queries.default_backend()
    today = datetime.now(UTC).date()
    picked = top[1].date_input("Dates (UTC)", value=(today - timedelta(days=29), today), max_value=today,
                               key="usage_dates")
    first, last = (picked[0], picked[-1]) if isinstance(picked, tuple) and picked else (today, today)
    opts: Options = resources.services().usage_options(ui.identity(), backend)
    with top[2]:
        cols = st.columns(3)
        models = cols[0].multiselect("Models", opts.models, key="usage_models", placeholder="all")
        features = cols[1].multiselect("Features", opts.features, key="usage_features", placeholder="all")
        users = cols[2].multiselect("Users", opts.users, key="usage_users", placeholder="all")
    picked_filter = UsageFilter.for_days(first, last, backend=backend, models=tuple(models), features=tuple(features),
                                         users=tuple(users))
    return resources.services().usage_filter(ui.identity(), picked_filter)  # a rep: only their own calls


def pct(value: float | Decimal | None, digits: int = 1) -> str:
    return "—" if value is None else f"{float(value) * 100:.{digits}f}%"


def ms(value: float | None, approx: bool) -> str:
    """A duration short enough for a metric: 840 ms, 4.6 s (≈ when read from the histogram)."""
    if value is None:
        return "—"
    text = f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.1f} s"
    return ("≈" if approx else "") + text


def budget_note(statuses: list[budgets.BudgetStatus], period: str) -> str | None:
    team = next((s for s in statuses if s.budget.scope == "team" and s.budget.period == period), None)
    return None if team is None else f"{pct(team.share, 0)} of {money(team.budget.limit_usd)} budget"


METRICS_PER_ROW = 4  # more and the metrics' values and deltas are cut off on a laptop screen


def metric_cells(rows: int) -> list:
    """`rows` rows of METRICS_PER_ROW columns, as one list of cells in reading order."""
    return [cell for _ in range(rows) for cell in st.columns(METRICS_PER_ROW)]


def headline(report: UsageReport, statuses: list[budgets.BudgetStatus]) -> None:
    h = report.headline
    spend, today, month, tokens, requests, errors, limited, headroom, hit_cell, saved_cell, latency, ttft = (
        metric_cells(3))  # spend, traffic, cache and speed: a row each
    spend.metric("Spend in range", money(h.spend), help="Known cost of the filtered calls. "
                 + (f"{h.unpriced_rows:,} call(s) have no known price and are not in it." if h.unpriced_rows else ""))
    today.metric("Today (UTC)", money(h.spend_today), budget_note(statuses, "day"), delta_color="off",
                 delta_arrow="off")
    month.metric("Month to date", money(h.spend_month), budget_note(statuses, "month"), delta_color="off",
                 delta_arrow="off")
    tokens.metric("Tokens", f"{sum(h.tokens.values()):,}", help="All kinds: input, cache writes and reads, output.")
    requests.metric("Requests", f"{h.requests:,}", f"{h.retries:,} retries", delta_color="off", delta_arrow="off",
                    help="HTTP attempts, retries included (each is a row of the log).")
    errors.metric("Error rate", pct(h.error_rate), help="Attempts that failed (HTTP errors, dropped streams).")
    limited.metric("429 rate", pct(h.rate_limited_rate), help="Attempts refused by a rate limit.")
    used = {k: v for k, v in h.headroom_now.items() if v is not None}
    tightest = max(used, key=used.get) if used else None
    headroom.metric("Rate limit used now", pct(used[tightest], 0) if tightest else "—",
                    tightest.replace("_", " ") if tightest else None, delta_color="off", delta_arrow="off",
                    help="The latest attempt's 1 - remaining / limit, on its tightest dimension.")
    hit = h.hit_rate
    hit_cell.metric("Cache-hit rate", hit.label, help="Cache reads / all prompt tokens (uncached input + cache "
                    "writes + cache reads), token-weighted. 'Caching not used' means nothing was written or read.")
    saved = h.savings
    saved_cell.metric("Cache savings", money(saved.amount) if saved else "—",
                      f"−{money(saved.write_premium)} write premium" if saved and saved.write_premium else None,
                      delta_color="off", delta_arrow="off", help="What the cached tokens would have cost as plain "
                      "input, minus what they cost: the read discount net of the write premium.")
    approx = not h.percentiles_exact
    latency.metric("Latency p50", ms(h.latency_p50, approx), f"p95 {ms(h.latency_p95, approx)}", delta_color="off",
                   delta_arrow="off", help="Successful calls, the whole call.")
    ttft.metric("TTFT p50", ms(h.ttft_p50, approx), f"p95 {ms(h.ttft_p95, approx)}", delta_color="off",
                delta_arrow="off", help="Time to the first token of streamed calls.")
    if h.unpriced_rows:
        st.warning(f"{h.unpriced_rows:,} call(s) used a model without a known price: their tokens are counted, their "
                   "cost is not in these totals (price unknown, not $0). Add the model to data/models.toml.")
    for s in statuses:
        if s.state != "ok":
            (st.error if s.state == "over" else st.warning)(f"{s.describe()} (policy: {s.policy}).")


def period(report: UsageReport) -> tuple[datetime, datetime]:
    """The filtered dates, as the time charts' x axis."""
    return report.filter.start, report.filter.end


def plot(fig, name: str) -> None:
    st.plotly_chart(fig, config=charts.export_config(name), key=f"usage_chart_{name}")


def spend_tab(report: UsageReport) -> None:
    plot(charts.spend_by_model_chart(report.spend_by_model, report.bucket, period(report)), "spend_by_model")
    left, right = st.columns(2)
    with left:
        st.subheader("By feature")
        plot(charts.spend_by_chart(report.by_feature, "feature"), "spend_by_feature")
    with right:
        st.subheader("By user")
        plot(charts.spend_by_chart(report.by_user, "user"), "spend_by_user")


def tokens_tab(report: UsageReport) -> None:
    plot(charts.tokens_by_kind_chart(report.tokens_by_kind, report.bucket, period(report)), "tokens_by_kind")
    plot(charts.hit_rate_chart(report.series, report.bucket, period(report)), "cache_hit_rate")
    s = report.headline.savings
    if s is not None:
        st.caption(f"Cache reads saved {money(s.read_discount)}; cache writes cost {money(s.write_premium)} "
                   f"more than plain input; net {money(s.amount)}."
                   + (f" {s.unpriced_rows:,} call(s) without a known price are left out." if s.unpriced_rows else ""))


def configured_limits_table() -> None:
    """The organisation's configured limits beside the measured headroom (with ANTHROPIC_ADMIN_KEY)."""
    if resources.settings().anthropic_admin_key is None:
        st.caption("Set ANTHROPIC_ADMIN_KEY to see the organisation's configured limits here (Rate Limits API).")
        return
    try:
        groups = resources.services().configured_limits()
    except ScribeError as err:
        ui.show_error(err)
        return
    st.markdown("**Configured limits** (Rate Limits API, per minute)")
    st.dataframe([{"group": g.group, "type": g.group_type, **{k: f"{v:,}" for k, v in g.limits.items()},
                   "models": ", ".join(g.models)} for g in groups], hide_index=True)


def limits_tab(report: UsageReport) -> None:
    configured_limits_table()
    if report.headroom.empty:
        st.info("No rate-limit headers in this period (the API sends them with every answer).")
        return
    plot(charts.headroom_chart(report.headroom, report.bucket, period(report)), "rate_limit_headroom")
    st.caption("Share of each per-minute limit used, 1 - remaining / limit, from the anthropic-ratelimit-* headers: "
               "the highest value in each bucket. Cache reads do not count against the input-token limit.")


def latency_tab(report: UsageReport) -> None:
    if report.latency.empty:
        st.info("No successful calls in this period.")
        return
    plot(charts.latency_chart(report.latency), "latency")
    if not report.headline.percentiles_exact:
        st.caption("On this many calls, p50 and p95 are read from a fine histogram (within 3%).")


def outcomes_tab(report: UsageReport) -> None:
    frame = report.outcomes
    if frame["outcomes"].sum() == 0:
        st.info("No outcomes in this period yet: CRM fields count when a rep saves an extraction's review, emails "
                "when a follow-up draft is kept. The spend that will be divided by them is below.")
    else:
        plot(charts.cost_per_outcome_chart(frame), "cost_per_outcome")
    frame = frame[(frame["outcomes"] > 0) | frame["model"].isna()]
    table = frame.assign(model=frame["model"].fillna("all models"), spend_usd=frame["spend_usd"].map(money),
                         cost_per_outcome=frame["cost_per_outcome"].map(lambda v: money(v) if v is not None else "—"))
    st.dataframe(table, hide_index=True, column_config={
        "outcome": "Outcome", "model": "Model", "outcomes": "How many", "spend_usd": "Spend",
        "cost_per_outcome": "Cost per outcome"})
    st.caption("Spend of the features that produce each outcome (extraction and batch for CRM fields and contacts, "
               "follow-up for emails), failed and rejected calls included, divided by the outcomes they produced.")


def budgets_tab(backend: str, statuses: list[budgets.BudgetStatus]) -> None:
    st.caption(f"Spend on the {BACKEND_LABELS.get(backend, backend)} backend counts. Warning at 75%; "
               "at 100% the policy applies. Team budgets default to SCRIBE_BUDGET_DAILY_USD / _MONTHLY_USD.")
    if statuses:
        st.dataframe([{"budget": s.budget.label, "limit": money(s.budget.limit_usd), "spent": money(s.spend),
                       "used": pct(s.share, 0), "state": s.state, "policy": s.policy, "from": s.budget.source}
                      for s in statuses], hide_index=True)
    else:
        st.info("No budgets yet.")
    with st.form("usage_budget_form"):
        cols = st.columns([2, 2, 2, 2, 3])
        scope = cols[0].selectbox("For", budgets.SCOPES, key="usage_budget_scope")
        subject = cols[1].text_input("User or feature", key="usage_budget_subject",
                                     help=f"Empty for the team. Features: {', '.join(FEATURES)}.")
        period = cols[2].selectbox("Per", budgets.PERIODS, key="usage_budget_period",
                                   format_func=lambda p: "UTC day" if p == "day" else "UTC month")
        limit = cols[3].number_input("Limit (USD)", min_value=0.0, value=10.0, step=1.0, key="usage_budget_limit")
        policy = cols[4].selectbox("At 100%", list(POLICY_LABELS), format_func=POLICY_LABELS.get,
                                   key="usage_budget_policy")
        saved = st.form_submit_button("Save budget")
    if saved:
        try:
            budget = resources.services().set_budget(ui.identity(), scope, subject, period,
                                                     Decimal(str(round(limit, 4))),
                                                     policy=None if policy == "default" else policy)
        except ValueError as err:
            st.error(f"Not saved: {err}.")
        except ScribeError as err:
            ui.show_error(err)
        else:
            st.session_state.usage_budget_note = f"Saved: {budget.label}, {money(budget.limit_usd)}."
            st.rerun()  # the headline and the table show the new budget
    if note := st.session_state.pop("usage_budget_note", None):
        st.success(note)
    stored = resources.services().budget_list(ui.identity())
    if stored:
        cols = st.columns([4, 1], vertical_alignment="bottom")
        gone = cols[0].selectbox("Remove a budget set here", stored, format_func=lambda b: b.label,
                                 key="usage_budget_remove")
        if cols[1].button("Remove", key="usage_budget_remove_btn"):
            resources.services().delete_budget(ui.identity(), gone.scope, gone.subject, gone.period)
            st.session_state.usage_budget_note = f"Removed: {gone.label}."
            st.rerun()


def visible_budgets(backend: str) -> list[budgets.BudgetStatus]:
    """The budgets' state, for the headline; none for a role that may not see budgets."""
    try:
        return resources.services().budget_statuses(backend, ui.identity())
    except Forbidden:
        return []


def budgets_section(backend: str, statuses: list[budgets.BudgetStatus] | None) -> None:
    """The Budgets tab; the services refuse it to a role without VIEW_BUDGETS, and the refusal shows."""
    try:
        budgets_tab(backend, resources.services().budget_statuses(backend, ui.identity())
                    if statuses is None or not statuses else statuses)
    except Forbidden as err:
        ui.show_error(err)


def whatif_models(queries: UsageQueries) -> dict[str, str]:
    """Priced models, cheapest first, labelled with their prices today."""
    prices = queries.prices
    rows = [(prices.price_for(m), m) for m in prices.known_models() if prices.resolve(m) == m]
    rows = sorted(((p.input, p.output, m) for p, m in rows if p is not None))
    return {m: f"{m} (${i:g} in / ${o:g} out per MTok)" for i, o, m in rows}


def whatif_tab(report: UsageReport, models: dict[str, str]) -> None:
    cols = st.columns([3, 2])
    scenario = cols[0].radio("What if", list(SCENARIOS), format_func=SCENARIOS.get, key="usage_whatif")
    model = share = None
    if scenario == "model":
        model = cols[1].selectbox("Model", list(models), format_func=models.get, key="usage_whatif_model")
    elif scenario == "more_cache":
        share = cols[1].slider("Share of uncached input read from the cache", 0.0, 1.0, 0.5, 0.05,
                               key="usage_whatif_share")
    result = what_if(report.groups, scenario, model=model, share=share or 0.5)
    row = st.columns(3)
    row[0].metric("As it happened (repriced)", money(result.baseline))
    row[1].metric("Under the scenario", money(result.cost), pct(result.change) if result.change is not None else None,
                  delta_color="inverse")
    row[2].metric("Difference", money(result.delta))
    st.caption(f"{result.description}. The period's logged tokens repriced with data/models.toml"
               + (f"; {result.unpriced_rows:,} call(s) without a known price are left out." if result.unpriced_rows
                  else "."))


def export_tab(queries: UsageQueries, f: UsageFilter, rows: int) -> None:
    st.download_button(f"Download the {rows:,} filtered rows (CSV)", lambda: resources.services().usage_export(ui.identity(), f),
                       file_name=f"scribe_usage_{f.start:%Y%m%d}_{f.end - timedelta(days=1):%Y%m%d}.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:")
    st.caption("Each chart saves as a PNG from the camera button of its toolbar (hover the chart).")


def reconcile_tab(queries: UsageQueries, f: UsageFilter) -> None:
    if not can(ui.identity(), Permission.RECONCILE_COSTS):
        ui.show_error(Forbidden(f"It takes the admin role to {Permission.RECONCILE_COSTS.value}."))
        return
    admin_key = resources.settings().anthropic_admin_key
    if admin_key is None:
        st.info("Compare this log with Anthropic's own cost report, per day and model: set ANTHROPIC_ADMIN_KEY "
                "(an Admin API key, sk-ant-admin…) in the environment or at the root of .streamlit/secrets.toml, "
                "then reload. It is used only to read the cost report.")
        return
    backend = resources.services().backend.kind
    st.caption(f"An admin key is set (never shown). Compares the {BACKEND_LABELS.get(backend, backend)} rows of "
               "the selected dates with the cost report that backend serves.")
    if st.button("Fetch Anthropic's cost report", key="usage_reconcile_fetch"):
        try:
            pages = resources.services().cost_report(ui.identity(), starting_at=f.start, ending_at=f.end)
        except ScribeError as err:
            ui.show_error(err)
            return
        ours = queries.cost_by_day_and_model(backend, f.start.date(), (f.end - timedelta(days=1)).date())
        st.session_state.usage_reconcile = (f.key(), reconcile.reconcile(ours, reconcile.parse_cost_report(pages)))
    stored = st.session_state.get("usage_reconcile")
    if stored and stored[0] == f.key():
        show_reconciliation(stored[1])


def show_reconciliation(frame) -> None:
    if frame.empty:
        st.info("Neither side has any cost in this period.")
        return
    s = reconcile.summarize(frame)
    row = st.columns(4)
    row[0].metric("Scribe's log", money(s.ours))
    row[1].metric("Anthropic's report", money(s.theirs))
    row[2].metric("Drift", money(s.drift))
    row[3].metric("Final rows drifting", f"{s.drifting}", f"{s.pending} not final yet", delta_color="off", delta_arrow="off")
    if s.drifting:
        st.warning(f"{s.drifting} final day/model row(s) differ by a cent or more: check the prices in "
                   "data/models.toml and the calls without a known price.")
    plot(charts.reconciliation_chart(frame), "reconciliation")
    st.dataframe(frame.assign(**{c: frame[c].map(money) for c in ("ours_usd", "theirs_usd", "drift_usd")},
                              drift_pct=frame["drift_pct"].map(lambda v: pct(v, 2))), hide_index=True)


def empty_state() -> None:
    st.info("Nothing to show yet: no call to Claude has been logged. Summarize a note, draft a follow-up or run an "
            "extraction, and its tokens, cost, cache use and rate-limit headroom appear here.",
            icon=":material/monitoring:")
    st.page_link("app_pages/summarize.py", label="Summarize a note", icon=":material/summarize:")
    with st.expander("Budgets (can be set before the first call)"):
        backend = resources.services().backend.kind
        budgets_section(backend, None)


st.title("Usage & spend")
queries = resources.services().usage
queries.refresh()
version = queries.version()
if version.startswith("0:"):
    empty_state()
else:
    usage_filter = pick_filter(queries)
    budget_statuses = visible_budgets(usage_filter.backend)
    report = load_report(str(resources.settings().scribe_db), usage_filter.key(), version,
                         datetime.now(UTC).date().isoformat())
    if report.empty:
        st.info("No calls match these filters. Widen the dates, or pick another backend.")
    else:
        headline(report, budget_statuses)
    tabs = st.tabs(["Spend", "Tokens & cache", "Rate limits", "Latency", "Cost per outcome", "Budgets", "What-if",
                    "Export", "Reconciliation"])
    if not report.empty:
        with tabs[0]:
            spend_tab(report)
        with tabs[1]:
            tokens_tab(report)
        with tabs[2]:
            limits_tab(report)
        with tabs[3]:
            latency_tab(report)
        with tabs[4]:
            outcomes_tab(report)
        with tabs[6]:
            whatif_tab(report, whatif_models(queries))
        with tabs[7]:
            export_tab(queries, usage_filter, report.headline.requests)
    with tabs[5]:
        budgets_section(usage_filter.backend, budget_statuses)
    with tabs[8]:
        reconcile_tab(queries, usage_filter)
