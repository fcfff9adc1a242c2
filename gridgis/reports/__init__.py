"""Reports: the monthly work report (工作月汇报) of a community's grids and staff.

Owns the month's figures per grid and per staff member — visits done against
visits due, households never visited, incidents reported, handled and
overdue, rounds by kind (:mod:`~gridgis.reports.monthly`, with the staff
table in :mod:`~gridgis.reports.staff` and the shared SQL in
:mod:`~gridgis.reports.figures`) — what each figure means, in Chinese and
English (:mod:`~gridgis.reports.columns`), and the report as CSV or XLSX
(:mod:`~gridgis.reports.files`). It sits above incidents and staff, whose
rules it counts with (visits due: :mod:`gridgis.staff.visits`; overdue:
:mod:`gridgis.incidents.breaches`; months: :mod:`gridgis.incidents.periods`),
and below maps. Framework-free: the web page and the command line call it.
"""
