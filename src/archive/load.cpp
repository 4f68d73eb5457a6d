// placeholder: filled in by the save/load work
