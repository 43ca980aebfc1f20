// Passkeys (WebAuthn) for satupintu's pages. Self-hosted and loaded as a
// file, so it runs under the pages' Content-Security-Policy (default-src
// 'self'); templates/html/_passkey.html describes the forms it drives.
//
// The server makes every challenge and checks every answer; this script
// only carries them: it turns the options' base64url fields into bytes for
// navigator.credentials, and the authenticator's answer back into JSON in
// the form's hidden "credential" field, then posts the form.
(function () {
  "use strict";

  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeList(list) {
    (list || []).forEach(function (c) { c.id = toBytes(c.id); });
  }

  // publicKey turns the server's options (go-webauthn's JSON) into what
  // the browser takes.
  function publicKey(options) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    if (pk.user) { pk.user.id = toBytes(pk.user.id); }
    decodeList(pk.allowCredentials);
    decodeList(pk.excludeCredentials);
    return pk;
  }

  // answer is the credential as JSON (WebAuthn's registration and
  // authentication response encodings).
  function answer(c) {
    var r = c.response, out = {
      id: c.id, rawId: toText(c.rawId), type: c.type,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (c.authenticatorAttachment) { out.authenticatorAttachment = c.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) { out.response.userHandle = toText(r.userHandle); }
    }
    return JSON.stringify(out);
  }

  function setup(form) {
    var status = form.querySelector(".passkey-status");
    var button = form.querySelector("button[type=submit]");
    var field = form.querySelector("input[name=credential]");
    var mode = form.getAttribute("data-passkey");
    var conditional = null; // the AbortController of a pending autofill request

    function say(key) { if (status) { status.textContent = key ? status.getAttribute("data-" + key) : ""; } }

    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (mode !== "signin") { say("unsupported"); }
      if (mode === "create" && button) { button.disabled = true; }
      return;
    }
    if (button) { button.hidden = false; }

    function fetchOptions() {
      var body = new URLSearchParams();
      body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
      return fetch(form.getAttribute("data-options-url"), {
        method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (resp) {
        if (!resp.ok) { throw new Error("options: " + resp.status); }
        return resp.json();
      });
    }

    function submit(credential) {
      field.value = answer(credential);
      form.submit();
    }

    function options() {
      if (mode === "create") { return Promise.resolve(JSON.parse(form.getAttribute("data-options"))); }
      return fetchOptions();
    }

    // run asks the browser for a passkey with a fresh challenge and posts
    // the answer; a cancelled or failed request leaves the page as it was.
    function run() {
      if (conditional) { conditional.abort(); conditional = null; }
      say("working");
      options().then(function (opts) {
        var pk = publicKey(opts);
        return mode === "create" ? navigator.credentials.create({ publicKey: pk }) : navigator.credentials.get({ publicKey: pk });
      }).then(function (credential) {
        if (!credential) { throw new Error("no credential"); }
        say("");
        submit(credential);
      }).catch(function () { say("failed"); });
    }

    form.addEventListener("submit", function (event) {
      if (field.value) { return; } // the answer is in: post it
      event.preventDefault();
      run();
    });

    // On the sign-in page, the browser also offers the person's passkeys in
    // the user name field's autofill (conditional mediation).
    if (mode === "signin" && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) { return; }
        return fetchOptions().then(function (opts) {
          conditional = new AbortController();
          return navigator.credentials.get({ publicKey: publicKey(opts), mediation: "conditional", signal: conditional.signal });
        }).then(function (credential) {
          if (credential) { submit(credential); }
        });
      }).catch(function () { /* aborted by the button, or unavailable: the button remains */ });
    }
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) { setup(forms[i]); }
})();
