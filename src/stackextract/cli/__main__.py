from stackextract.cli.main import main

main()
