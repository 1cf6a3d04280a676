from raykopf.cli import main

raise SystemExit(main())
