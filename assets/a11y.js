/* Accessibility repairs for markup that Dash's own widgets render (dash 4.x), so that every
 * page passes a current axe-core (tests/axe). Each repair keeps the widget's behaviour:
 *
 * 1. Dropdowns put a hidden "focus target" <input aria-hidden="true" tabindex="0"> before
 *    their button and move focus on to the button (which has tabindex="-1"). A focusable
 *    element hidden from assistive technology is a trap for screen-reader users
 *    (axe: aria-hidden-focus). The button itself becomes the tab stop instead.
 * 2. A dropdown's button is named (aria-labelledby) by a count and its value, in an order and
 *    spacing that differ from the text a sighted user reads, and the field's own <label> is
 *    left out (axe: label-content-name-mismatch). The button is named by its <label for> and
 *    described by its value and count, so a screen reader says "Columns shown, button, …"
 *    followed by what is selected.
 * 3. A slider's thumb (role="slider") has no accessible name (axe: aria-input-field-name):
 *    it is named by the <label for> of its slider.
 */
(function () {
  "use strict";

  function labelFor(id) {
    if (!id) { return null; }
    var label = document.querySelector('label[for="' + CSS.escape(id) + '"]');
    if (label && !label.id) { label.id = id + "-label"; }
    return label;
  }

  function repairDropdown(target) {
    var button = target.nextElementSibling;
    if (target.getAttribute("tabindex") !== "-1") { target.setAttribute("tabindex", "-1"); }
    if (!button || !button.classList.contains("dash-dropdown")) { return; }
    if (button.getAttribute("tabindex") !== "0") { button.setAttribute("tabindex", "0"); }
    var id = button.id;
    if (!id) { return; }
    if (!labelFor(id)) { return; }  // no label: the button keeps the name Dash gives it
    if (button.hasAttribute("aria-labelledby")) { button.removeAttribute("aria-labelledby"); }
    var described = [id + "-value", id + "-value-count"].filter(function (x) {
      return document.getElementById(x);
    }).join(" ");
    if (button.getAttribute("aria-describedby") !== described) {
      button.setAttribute("aria-describedby", described);
    }
  }

  function repairSlider(thumb) {
    if (thumb.hasAttribute("aria-labelledby")) { return; }
    var holder = thumb.closest("[id]");
    var label = holder ? labelFor(holder.id) : null;
    if (label) {
      thumb.setAttribute("aria-labelledby", label.id);
      thumb.removeAttribute("aria-label");
    }
  }

  function repair() {
    document.querySelectorAll(".dash-dropdown-focus-target").forEach(repairDropdown);
    document.querySelectorAll('[role="slider"]').forEach(repairSlider);
  }

  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; repair(); });
  }

  function start() {
    repair();
    new MutationObserver(schedule).observe(document.body, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["tabindex", "aria-labelledby", "aria-label", "aria-describedby"],
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
