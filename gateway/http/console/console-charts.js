// Charts: sales and revenue by hour or day, and receipt latency percentiles, for the fleet, a
// machine or a kassa over a chosen range. Drawn by uPlot (served from node_modules at /vendor).
'use strict'

const charts = { sales: null, latency: null }

function chartQuery() {
  const p = new URLSearchParams({
    scope: $('chart-scope').value, bucket: $('chart-bucket').value,
    from: dayStart($('chart-from').value), to: dayStart($('chart-to').value, 1),
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
  })
  if ($('chart-scope').value !== 'fleet') p.set('id', $('chart-id').value.trim())
  return p
}

function defaultRange() {
  if ($('chart-from').value) return
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
  const today = new Date()
  $('chart-to').value = iso(today)
  $('chart-from').value = iso(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6))
}

function draw(slot, el, opts, data) {
  charts[slot]?.destroy()
  el.replaceChildren()
  charts[slot] = new uPlot({ ...opts, width: Math.max(280, el.clientWidth), height: 240 }, data, el)
}

async function loadCharts() {
  defaultRange()
  $('chart-id').hidden = $('chart-scope').value === 'fleet'
  if ($('chart-scope').value !== 'fleet' && !$('chart-id').value.trim()) {
    $('chart-totals').textContent = 'Укажите автомат или кассу'
    return
  }
  const q = chartQuery()
  const [sales, latency] = await Promise.all([api(`/api/charts/sales?${q}`), api(`/api/charts/latency?${q}`)])
  const xs = (items) => items.map((p) => Date.parse(p.t) / 1000)
  const count = sales.items.reduce((n, p) => n + p.sales, 0)
  const revenue = sales.items.reduce((n, p) => n + p.revenue, 0)
  $('chart-totals').textContent = `Продаж: ${count}, выручка: ${rub(revenue)}`
  $('chart-totals').dataset.sales = String(count)
  $('chart-totals').dataset.revenue = String(revenue)
  draw('sales', $('chart-sales'), {
    scales: { rub: { auto: true } },
    series: [{}, { label: 'Продажи', stroke: '#1d4ed8', width: 2 }, { label: 'Выручка, ₽', stroke: '#16a34a', width: 2, scale: 'rub' }],
    axes: [{}, { label: 'продаж' }, { side: 1, scale: 'rub', label: '₽', grid: { show: false } }],
  }, [xs(sales.items), sales.items.map((p) => p.sales), sales.items.map((p) => p.revenue / 100)])
  draw('latency', $('chart-latency'), {
    series: [{}, { label: 'p50, мс', stroke: '#16a34a' }, { label: 'p95, мс', stroke: '#d97706' }, { label: 'p99, мс', stroke: '#dc2626' }],
  }, [xs(latency.items), latency.items.map((p) => p.p50), latency.items.map((p) => p.p95), latency.items.map((p) => p.p99)])
}

registerView('charts', /^#\/charts$/, loadCharts)

document.addEventListener('DOMContentLoaded', () => {
  $('chart-form').addEventListener('submit', (e) => { e.preventDefault(); void refresh() })
  $('chart-scope').addEventListener('change', () => { $('chart-id').hidden = $('chart-scope').value === 'fleet' })
})
