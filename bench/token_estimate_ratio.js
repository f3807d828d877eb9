// Ratio of ragline's built-in token estimate (retrieve/prompt.cpp, re-implemented here) to the
// cl100k and o200k BPE counts, per document of BEIR corpora (retrieve/README.md quotes the result).
// Needs the npm package gpt-tokenizer: npm install --prefix /tmp/bpe gpt-tokenizer, then
// NODE_PATH=/tmp/bpe/node_modules node bench/token_estimate_ratio.js DIR/corpus.jsonl ...
const fs = require('fs');
const enc = {cl100k: require('gpt-tokenizer/cjs/encoding/cl100k_base'), o200k: require('gpt-tokenizer/cjs/encoding/o200k_base')};
function estimate(s) {
  const b = Buffer.from(s, 'utf8'); let t = 0, i = 0;
  const L = c => (c>=97&&c<=122)||(c>=65&&c<=90), D = c => c>=48&&c<=57, S = c => c==32||c==10||c==9||c==13||c==12;
  while (i < b.length) { const c = b[i]; let r = 0;
    if (L(c)) { while (i<b.length&&L(b[i])) {i++;r++;} t += r <= 8 ? Math.ceil(r/4) : 2 + Math.ceil((r-8)/3); }
    else if (D(c)) { while (i<b.length&&D(b[i])) {i++;r++;} t += Math.ceil(r/3); }
    else if (S(c)) { while (i<b.length&&S(b[i])) {i++;r++;} if (r>1||c!=32) t++; }
    else if (c < 0x80) { i++; t++; }
    else { const s0 = i; i++; while (i<b.length&&(b[i]&0xC0)==0x80) i++; t += (i - s0 >= 3) ? 2 : 1; } }
  return t;
}
for (const name of process.argv.slice(2)) {
  const lines = fs.readFileSync(name, 'utf8').split('\n').filter(Boolean).slice(0, 1500);
  const r = {cl100k: [], o200k: []}; let under = {cl100k: 0, o200k: 0};
  let tot = {est: 0, cl100k: 0, o200k: 0, bytes: 0};
  for (const l of lines) { const d = JSON.parse(l); const s = (d.title ? d.title + '\n' : '') + d.text; const e = estimate(s);
    tot.est += e; tot.bytes += Buffer.byteLength(s);
    for (const k of ['cl100k','o200k']) { const n = enc[k].encode(s).length; tot[k] += n; r[k].push(e / Math.max(1,n)); if (e < n) under[k]++; } }
  const q = (a, p) => { a = a.slice().sort((x,y)=>x-y); return a[Math.floor(p*(a.length-1))].toFixed(3); };
  console.log(name, 'docs', lines.length, 'est/cl100k total', (tot.est/tot.cl100k).toFixed(3), 'min', q(r.cl100k,0), 'p1', q(r.cl100k,0.01), 'median', q(r.cl100k,0.5), 'under', under.cl100k,
    '| est/o200k total', (tot.est/tot.o200k).toFixed(3), 'min', q(r.o200k,0), 'under', under.o200k, '| bytes/cl100k', (tot.bytes/tot.cl100k).toFixed(2));
}
const samples = {de: 'Die Donaudampfschifffahrtsgesellschaft beschloss, die Überfahrt über den Fluss künftig stündlich anzubieten.', zh: '检索增强生成把检索到的文档片段放入提示词中，让模型根据这些来源回答问题。', ja: '東京都は日本の首都であり、多くの企業の本社が集まっている。', code: 'for (std::size_t i = 0; i < n; ++i) { out[i] = f(x[i]) * 0.5; } // 0x7fffffff', url: 'https://example.com/a/b?q=aerodynamics&id=12345678#section-3.2'};
for (const [k, s] of Object.entries(samples)) console.log(k, 'est', estimate(s), 'cl100k', enc.cl100k.encode(s).length, 'o200k', enc.o200k.encode(s).length);
