// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(document); });
  document.addEventListener("htmx:afterSwap", function (event) { focusErrorSummary(event.target); });

  // Tell the live-premium endpoint which answer changed, so it re-renders what depends on it.
  document.addEventListener("htmx:configRequest", function (event) {
    var trigger = event.detail.triggeringEvent;
    if (event.detail.elt.matches("[data-live-form]") && trigger && trigger.target && trigger.target.name) {
      event.detail.parameters._changed = trigger.target.name;
    }
  });

  // Inputs that are not quote answers (the vehicle search) must not start a live premium request:
  // their events stop at their container, after the input's own (htmx) handlers have run.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-no-live]").forEach(function (container) {
      ["input", "change", "search"].forEach(function (type) {
        container.addEventListener(type, function (event) { event.stopPropagation(); });
      });
    });
  });

  // Keep aria-invalid in step with the error slots htmx updates while the user types.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var slot = event.detail.target;
    if (!slot || !slot.classList || !slot.classList.contains("field__error")) { return; }
    var controls = document.querySelectorAll("[aria-describedby~='" + slot.id + "']");
    controls.forEach(function (control) {
      if (slot.textContent.trim()) { control.setAttribute("aria-invalid", "true"); }
      else { control.removeAttribute("aria-invalid"); }
    });
  });

  // A vehicle picked from the search fills HSN and TSN and updates the premium.
  document.addEventListener("click", function (event) {
    var pick = event.target.closest && event.target.closest("[data-pick-hsn]");
    if (!pick) { return; }
    event.preventDefault();
    var hsn = document.getElementById("hsn"), tsn = document.getElementById("tsn");
    if (!hsn || !tsn) { return; }
    hsn.value = pick.getAttribute("data-pick-hsn");
    tsn.value = pick.getAttribute("data-pick-tsn");
    tsn.dispatchEvent(new Event("change", { bubbles: true }));
    var list = document.getElementById("vehicle-suggestions");
    if (list) { list.innerHTML = ""; }
    tsn.focus();
  });
})();

// "Alle auswählen": a checkbox with data-select-all="<name>" ticks every checkbox of that name in its form.
document.addEventListener("change", function (event) {
  var all = event.target;
  if (!all.matches || !all.matches("[data-select-all]")) { return; }
  var name = all.getAttribute("data-select-all");
  all.form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
    box.checked = all.checked;
  });
});

// Quote drafts: what the broker typed in a new quote survives a reload and the back button
// (sessionStorage: this tab only, gone with it). Restored values are priced at once: the live
// endpoint re-renders every dependent block for `_changed=*`. A submit ends the draft.
(function () {
  "use strict";
  var form = document.querySelector("form[data-draft-key]");
  if (!form || !window.sessionStorage) { return; }
  var key = form.getAttribute("data-draft-key");

  function save() {
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "csrf_token" || name.charAt(0) === "_" || typeof value !== "string") { return; }
      (values[name] = values[name] || []).push(value);
    });
    try { sessionStorage.setItem(key, JSON.stringify(values)); } catch (e) { /* storage full or off */ }
  }

  function restore() {
    var saved;
    try { saved = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (!saved) { return; }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.name.charAt(0) === "_") { return; }
      var values = saved[el.name];
      if (el.type === "checkbox") { el.checked = (values || []).indexOf(el.value) !== -1; }
      else if (el.type === "radio") { if (values) { el.checked = values.indexOf(el.value) !== -1; } }
      else if (values) { el.value = values[0]; }
    });
    form.setAttribute("data-draft-restored", "");
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt === form && form.hasAttribute("data-draft-restored")) {
      form.removeAttribute("data-draft-restored");
      event.detail.parameters._changed = "*";
    }
  });
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  form.addEventListener("submit", function () { sessionStorage.removeItem(key); });
  if (form.hasAttribute("data-draft-restore")) {
    document.addEventListener("htmx:load", function once() {
      document.removeEventListener("htmx:load", once);
      restore();
    });
  }
})();

// "Kopieren" beside a number the broker passes on (the eVB-Nummer): copies it and says so.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var said = button.parentElement.querySelector("[data-copied]");
      if (said) { said.textContent = "Kopiert."; }
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
  });
})();
