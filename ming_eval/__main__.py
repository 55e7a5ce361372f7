from ming_eval.cli.app import main

main()
