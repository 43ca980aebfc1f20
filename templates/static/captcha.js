// The proof of work of satupintu's security check (package captcha, in the
// spirit of the open ALTCHA protocol). Self-hosted and loaded as a file, so
// it runs under the pages' Content-Security-Policy (default-src 'self').
//
// The form's fieldset carries a challenge signed by the server: a salt, the
// hex SHA-256 of the salt followed by a secret number at most maxnumber, and
// a signature. This script finds the number by trying them all, in Web
// Workers (this same file) when it can, else in short slices on the page,
// then puts the solution, base64 JSON, into the hidden field and says so in
// the status line, which screen readers announce. The person does nothing.
//
// A press of the form's own button while the work runs is held and made
// once the solution is in. Without JavaScript none of this runs and the
// form offers the image code instead (templates/html/_captcha.html).
(function (scope) {
  "use strict";

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

  // compress runs SHA-256's compression function on the 16 words at
  // w[0..15] (w has room for 64), updating the 8 words of h.
  function compress(h, w) {
    var i, s0, s1, t1, t2;
    for (i = 16; i < 64; i++) {
      s0 = w[i - 15]; s1 = w[i - 2];
      w[i] = (w[i - 16] + ((s0 >>> 7 | s0 << 25) ^ (s0 >>> 18 | s0 << 14) ^ (s0 >>> 3)) + w[i - 7] +
        ((s1 >>> 17 | s1 << 15) ^ (s1 >>> 19 | s1 << 13) ^ (s1 >>> 10))) | 0;
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = (k + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      t2 = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }

  // search tries start, start+step, … up to max and returns the number n
  // whose SHA-256(salt + decimal n) is the challenge (64 hex digits), or -1.
  // The salt is ASCII (the server makes it so). Its whole 64-byte blocks
  // are hashed once; each try hashes only what follows them.
  function search(salt, challenge, max, start, step) {
    var want = new Int32Array(8), i, j;
    for (i = 0; i < 8; i++) want[i] = parseInt(challenge.substr(i * 8, 8), 16) | 0;
    var w = new Int32Array(64), mid = IV.slice(), full = salt.length - salt.length % 64;
    for (i = 0; i < full; i += 64) {
      for (j = 0; j < 16; j++) {
        w[j] = salt.charCodeAt(i + 4 * j) << 24 | salt.charCodeAt(i + 4 * j + 1) << 16 |
          salt.charCodeAt(i + 4 * j + 2) << 8 | salt.charCodeAt(i + 4 * j + 3);
      }
      compress(mid, w);
    }
    var tail = [], h = new Int32Array(8);
    for (i = full; i < salt.length; i++) tail.push(salt.charCodeAt(i));
    var buf = new Uint8Array(192);
    for (var n = start; n <= max; n += step) {
      var s = String(n), len = tail.length + s.length, total = full + len;
      for (i = 0; i < tail.length; i++) buf[i] = tail[i];
      for (i = 0; i < s.length; i++) buf[tail.length + i] = s.charCodeAt(i);
      // Padding: 0x80, zeros, the length in bits as 64 bits big-endian.
      var blocks = len + 9 <= 64 ? 1 : 2, end = blocks * 64;
      buf[len] = 0x80;
      for (i = len + 1; i < end - 4; i++) buf[i] = 0;
      var bits = total * 8;
      buf[end - 4] = bits >>> 24; buf[end - 3] = bits >>> 16; buf[end - 2] = bits >>> 8; buf[end - 1] = bits;
      for (i = 0; i < 8; i++) h[i] = mid[i];
      for (var b = 0; b < end; b += 64) {
        for (j = 0; j < 16; j++) {
          w[j] = buf[b + 4 * j] << 24 | buf[b + 4 * j + 1] << 16 | buf[b + 4 * j + 2] << 8 | buf[b + 4 * j + 3];
        }
        compress(h, w);
      }
      if (h[0] === want[0] && h[1] === want[1] && h[2] === want[2] && h[3] === want[3] &&
        h[4] === want[4] && h[5] === want[5] && h[6] === want[6] && h[7] === want[7]) {
        return n;
      }
    }
    return -1;
  }

  // In a Worker: answer each message with a search.
  if (typeof document === "undefined") {
    scope.onmessage = function (ev) {
      var d = ev.data;
      scope.postMessage(search(d.salt, d.challenge, d.max, d.start, d.step));
    };
    return;
  }

  var script = document.currentScript && document.currentScript.src;

  // solveInWorkers splits the numbers between a few workers and calls done
  // with the answer (-1 if none). It returns false if workers cannot run.
  function solveInWorkers(c, done) {
    if (!script || typeof Worker === "undefined") return false;
    var cores = Math.min(Math.max(navigator.hardwareConcurrency || 2, 1), 4);
    var workers = [], left = cores, finished = false;
    function finish(n) {
      if (finished) return;
      finished = true;
      for (var i = 0; i < workers.length; i++) workers[i].terminate();
      done(n);
    }
    try {
      for (var i = 0; i < cores; i++) {
        var wk = new Worker(script);
        wk.onmessage = function (ev) {
          if (ev.data >= 0) finish(ev.data);
          else if (--left === 0) finish(-1);
        };
        wk.onerror = function (ev) { ev.preventDefault(); finish(-2); };
        workers.push(wk);
        wk.postMessage({ salt: c.salt, challenge: c.challenge, max: c.maxnumber, start: i, step: cores });
      }
    } catch (e) {
      for (var j = 0; j < workers.length; j++) workers[j].terminate();
      return false;
    }
    return true;
  }

  // solveInSlices searches on the page, a slice at a time, so the page
  // stays responsive where workers are not available.
  function solveInSlices(c, done) {
    var from = 0, slice = 20000;
    (function next() {
      var to = Math.min(from + slice - 1, c.maxnumber);
      var n = search(c.salt, c.challenge, to, from, 1);
      if (n >= 0 || to >= c.maxnumber) { done(n); return; }
      from = to + 1;
      setTimeout(next, 0);
    })();
  }

  function start(box) {
    var c;
    try {
      c = JSON.parse(box.getAttribute("data-challenge"));
    } catch (e) {
      return;
    }
    var form = box.form || box.closest("form");
    var field = box.querySelector("input[name=captcha_proof]");
    var status = box.querySelector(".captcha-status");
    var fallback = form && form.querySelector("[data-captcha-fallback]");
    if (!form || !field || !status || c.algorithm !== "SHA-256") return;
    var finished = false, held = null;
    function say(key) {
      status.textContent = status.getAttribute("data-" + key) || "";
      box.setAttribute("data-state", key);
    }
    // A press of the form's own button before the work is done waits for
    // it, and is made again once it is. Buttons that skip validation
    // (cancel, image code) go at once; so does everything if the work
    // failed (the server then asks again).
    form.addEventListener("submit", function (ev) {
      var by = ev.submitter;
      if (finished || (by && by.hasAttribute("formnovalidate"))) return;
      ev.preventDefault();
      held = by || form.querySelector("button[type=submit]:not([formnovalidate])") || form;
    });
    field.value = ""; // a value the browser restored belongs to an old challenge
    say("working");
    var begun = Date.now();
    function done(n) {
      finished = true;
      if (n < 0) {
        say("failed");
        if (fallback) fallback.hidden = false;
        return;
      }
      field.value = btoa(JSON.stringify({
        algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature
      }));
      box.setAttribute("data-took-ms", String(Date.now() - begun));
      say("done");
      if (held === form) form.submit();
      else if (held) held.click();
    }
    function onPage() {
      box.setAttribute("data-solver", "page");
      solveInSlices(c, done);
    }
    box.setAttribute("data-solver", "workers");
    if (!solveInWorkers(c, function (n) {
      if (n === -2) onPage(); // a worker failed: try on the page
      else done(n);
    })) {
      onPage();
    }
  }

  var boxes = document.querySelectorAll("fieldset.captcha[data-challenge]");
  for (var i = 0; i < boxes.length; i++) start(boxes[i]);
})(typeof self !== "undefined" ? self : this);
