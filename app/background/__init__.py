"""Work that runs beside requests and builds, each a periodic task or a step after a build's
result: firing schedules, delivering commit statuses, mail, retention, and sweeping caches and
mirrors. Imports the records and the forges."""
