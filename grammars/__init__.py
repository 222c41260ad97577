"""The grammar of the .net language, installed as the package `cnndsl.grammars`."""
