// Follow Airflow's light/dark choice: the page sits in Airflow's same-origin iframe.
(function () {
  function apply() {
    var mode = null;
    try {
      var root = window.parent && window.parent !== window ? window.parent.document.documentElement : null;
      if (root && root.classList.contains("dark")) mode = "dark";
      else if (root && root.classList.contains("light")) mode = "light";
    } catch (e) { /* not inside Airflow: the system's preference decides */ }
    if (mode) document.documentElement.setAttribute("data-theme", mode);
    else document.documentElement.removeAttribute("data-theme");
  }
  apply();
  try {
    if (window.parent && window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true, attributeFilter: ["class"] });
    }
  } catch (e) { /* cross-origin parent: keep the system's preference */ }
})();
