from faceweave.cli.main import main

main()
