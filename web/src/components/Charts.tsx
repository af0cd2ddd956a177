// The pack's figures as inline SVG bar charts (no chart library): leads by outcome, and each campaign's leads,
// replies and positive outcomes. Each chart carries its figures as text for screen readers.
import { OUTCOME_LABELS, humanize, percent } from "../format.ts";
import type { CampaignFigures } from "../types.ts";

const OUTCOME_ORDER = Object.keys(OUTCOME_LABELS);
const ROW = 26;
const LABEL_W = 130;
const WIDTH = 420;
const BAR_W = WIDTH - LABEL_W - 40;

export function OutcomeChart({ byOutcome }: { byOutcome: Record<string, number> }) {
  const rows = Object.entries(byOutcome)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => OUTCOME_ORDER.indexOf(a) - OUTCOME_ORDER.indexOf(b));
  if (rows.length === 0) return null;
  const max = Math.max(...rows.map(([, n]) => n));
  const label = (code: string) => OUTCOME_LABELS[code] ?? humanize(code);
  const summary = rows.map(([code, n]) => `${label(code)}: ${n}`).join(", ");
  return (
    <figure class="chart">
      <figcaption>Leads by outcome</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${rows.length * ROW}`} role="img" aria-label={`Leads by outcome. ${summary}`}>
        {rows.map(([code, n], i) => {
          const w = Math.max(2, (n / max) * BAR_W);
          const y = i * ROW;
          return (
            <g key={code} class={`outcome-${code.toLowerCase()}`}>
              <text x={LABEL_W - 8} y={y + ROW / 2 + 4} text-anchor="end" class="label">
                {label(code)}
              </text>
              <rect x={LABEL_W} y={y + 4} width={w} height={ROW - 8} rx={3} class="bar" />
              <text x={LABEL_W + w + 6} y={y + ROW / 2 + 4} class="value">
                {n}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

const SERIES = [
  { key: "leads", label: "Leads" },
  { key: "replied", label: "Replied" },
  { key: "positive", label: "Positive" },
] as const;
const GROUP = 3 * 12 + 14;

export function CampaignChart({ byCampaign }: { byCampaign: CampaignFigures[] }) {
  if (byCampaign.length === 0) return null;
  const rows = byCampaign.slice().sort((a, b) => b.leads - a.leads);
  const max = Math.max(1, ...rows.map((r) => r.leads));
  const name = (r: CampaignFigures) => r.campaignName ?? (r.campaignId ? r.campaignId : "No campaign");
  const summary = rows
    .map(
      (r) =>
        `${name(r)}: ${r.leads} leads, ${r.replied} replied (${percent(r.replyRate)}), ${r.positive} positive (${percent(r.positiveRate)})`,
    )
    .join("; ");
  return (
    <figure class="chart">
      <figcaption>
        By campaign
        <span class="legend" aria-hidden="true">
          {SERIES.map((s) => (
            <span key={s.key} class={`key series-${s.key}`}>
              {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${rows.length * GROUP}`} role="img" aria-label={`Campaign figures. ${summary}`}>
        {rows.map((r, i) => {
          const y = i * GROUP;
          return (
            <g key={r.campaignId ?? "none"}>
              <text x={LABEL_W - 8} y={y + 16} text-anchor="end" class="label">
                {truncate(name(r), 18)}
              </text>
              <text x={LABEL_W - 8} y={y + 30} text-anchor="end" class="sub">
                {percent(r.replyRate)} replied
              </text>
              {SERIES.map((s, j) => {
                const w = Math.max(2, (r[s.key] / max) * BAR_W);
                return (
                  <g key={s.key}>
                    <rect x={LABEL_W} y={y + 2 + j * 12} width={w} height={10} rx={2} class={`bar series-${s.key}`} />
                    <text x={LABEL_W + w + 4} y={y + 11 + j * 12} class="value small">
                      {r[s.key]}
                    </text>
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

const truncate = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
