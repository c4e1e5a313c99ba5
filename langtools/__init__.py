"""Language tools shared by every process, the Rasa server (Python 3.10) included: which
languages are served, language identification, names of languages and towns as women write
them. Imports nothing from the project, so both runtimes can load it."""
