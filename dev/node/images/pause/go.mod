module hotstepper.local/pause

go 1.26
