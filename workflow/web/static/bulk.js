// The bulk form (templates/bulk/form.html): offer only the actions that leave the chosen
// state, as the state changes. Without JavaScript the button "Aktionen für diesen Status
// anzeigen" does the same on the server, which checks every combination again.
document.addEventListener("DOMContentLoaded", () => {
  const state = document.getElementById("state");
  const trigger = document.getElementById("trigger");
  if (!state || !trigger) return;
  const narrow = () => {
    for (const option of trigger.options) {
      if (!option.value) continue;
      const fits = !state.value || option.dataset.states.split(" ").includes(state.value);
      option.hidden = !fits;
      option.disabled = !fits;
      if (!fits && option.selected) trigger.value = "";
    }
  };
  state.addEventListener("change", narrow);
  narrow();
});
