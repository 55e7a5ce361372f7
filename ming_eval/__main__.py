from ming_eval.cli.app import entry

entry()
