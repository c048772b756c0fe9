import QRCode from 'qrcode'
import type { ReceiptView } from './receipt-view.js'

const esc = (s: string | number | null): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const row = (label: string, value: string | number | null) =>
  value === null ? '' : `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`

/** `2026-12-02T03:34:05+03:00` (the kassa's local time) → `02.12.2026 03:34`, as a printed receipt shows it. */
export function printedDateTime(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso)
  return m ? `${m[3]}.${m[2]}.${m[1]} ${m[4]}:${m[5]}` : iso
}

// Phone first: nothing may be wider than the screen (a long QR string wraps, the QR image shrinks).
const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:1rem auto;padding:0 1rem;color:#111;overflow-wrap:anywhere}
h1{font-size:1.2rem;margin:.2rem 0}.test{background:#fde68a;padding:.5rem;border-radius:.3rem;font-weight:600}
table{width:100%;border-collapse:collapse}td,th{padding:.15rem .3rem .15rem 0;text-align:left;vertical-align:top}
td:last-child{text-align:right;white-space:nowrap;padding-right:0}.vat td{color:#555;font-size:.85rem}.total td{font-weight:700;font-size:1.1rem;border-top:1px solid #999}
.fiscal th{font-weight:normal;color:#555}.fiscal td{white-space:normal}.qr{text-align:center;margin:1rem 0}.qr svg{max-width:100%;height:auto}
.qr code{display:block;word-break:break-all;font-size:.8rem}`

/** The Russian page a customer sees for a receipt that is not there (or a wrong fp). */
export const NOT_FOUND_PAGE = `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>Чек не найден</title><style>${STYLE}</style></head><body>
<h1>Чек не найден</h1>
<p>Такого чека нет, или ссылка неполная. Проверьте, что QR-код отсканирован целиком, или отсканируйте его ещё раз.</p>
<p>Чек также можно проверить в приложении ФНС России «Проверка чеков».</p>
</body></html>`

/** The customer's receipt page: everything the receipt carries, readable on a phone. */
export async function renderReceiptPage(v: ReceiptView): Promise<string> {
  const qrSvg = v.fiscal.qr ? await QRCode.toString(v.fiscal.qr, { type: 'svg', margin: 1, width: 220 }) : ''
  const items = v.items.map((i) => `
    <tr class="item"><td>${esc(i.name)}</td><td>${esc(i.qty)} × ${esc(i.price)}</td><td>${esc(i.sum)}</td></tr>
    <tr class="vat"><td colspan="2">${esc(i.vat)}</td><td>${esc(i.vatSum)}</td></tr>`).join('')
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${esc(v.title)} № ${esc(v.fiscal.fd)}</title>
<style>${STYLE}</style></head><body>
${v.test ? '<p class="test">ТЕСТОВЫЙ ЧЕК: подписан эмулятором фискального накопителя (ФН 9999…), не является фискальным документом</p>' : ''}
<h1>${esc(v.title)}</h1>
${v.operation ? `<p>Признак расчёта: <strong>${esc(v.operation)}</strong></p>` : ''}
${v.correction ? `<table class="correction">${row('Тип коррекции', v.correction.type)}${row('Дата расчётов без чека', v.correction.date)}${row('Номер предписания', v.correction.order)}${row('Интервал сверки (аудит)', v.correction.interval)}</table>` : ''}
<table class="seller">
${row('Продавец', v.seller.name)}${row('ИНН', v.seller.inn)}${row('СНО', v.seller.sno)}
${row('Адрес расчётов', v.machine.address)}${row('Место расчётов', v.machine.place)}
${row('Номер автомата', v.machine.number)}
</table>
${v.items.length > 0 ? `<table class="items">${items}
<tr class="total"><td colspan="2">ИТОГ</td><td>${esc(v.total)}</td></tr>
${v.cash ? `<tr><td colspan="2">Наличными</td><td>${esc(v.cash)}</td></tr>` : ''}
${v.electronic ? `<tr><td colspan="2">Безналичными</td><td>${esc(v.electronic)}</td></tr>` : ''}
</table>` : ''}
<table class="fiscal">
${row('Дата и время', printedDateTime(v.fiscal.at))}${row('Смена', v.fiscal.shift)}${row('Чек в смене', v.fiscal.receiptInShift)}
${row('РН ККТ', v.kassa.regNumber)}${row('ФН', v.kassa.fn)}${row('ФД', v.fiscal.fd)}${row('ФП', v.fiscal.fp)}
</table>
${qrSvg ? `<div class="qr">${qrSvg}<p><code>${esc(v.fiscal.qr)}</code></p></div>` : ''}
</body></html>`
}
