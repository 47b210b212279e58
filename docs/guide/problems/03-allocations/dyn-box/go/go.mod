module guide/dynbox

go 1.24
